import type { Event, HostInfo, Topic } from '../../protocol/index.js';
import { TowerClient } from '../rpc.js';
import { DOWN, applyEvent, fromSnapshot, type BarView, type UpView } from './model.js';

export const BAR_TOPICS: Topic[] = ['hosts', 'registry', 'daemon', 'export'];
export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 5000;
const CONNECT_TIMEOUT_MS = 2000;

/** Doubling from 0.5 s up to 5 s: a bar started before towerd shows it within seconds, without spinning. */
export function nextDelay(prev: number | undefined): number {
  return prev === undefined ? BACKOFF_MIN_MS : Math.min(prev * 2, BACKOFF_MAX_MS);
}

export type Connect = (socket: string) => Promise<TowerClient>;

/**
 * Keeps the bar's view of towerd: a snapshot from `status`, then the pushed events, and while towerd is away
 * the `down` view and a reconnect attempt on a capped backoff. Nothing here polls: a view is passed on only
 * when an event, a snapshot or the loss of the connection produced it.
 */
export class TowerLink {
  private client: TowerClient | undefined;
  private up: UpView | undefined;
  private delay: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly socket: string,
    private readonly onView: (view: BarView) => void,
    private readonly connect: Connect = (s) => TowerClient.connect(s, { validate: true, timeoutMs: CONNECT_TIMEOUT_MS }),
  ) {}

  start(): void {
    void this.attempt();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.client?.close();
  }

  /** Whether the host is one the bar currently shows (clicks name hosts; only known ones are acted on). */
  knows(name: string): boolean {
    return this.up?.hosts.some((h) => h.name === name) ?? false;
  }

  async reconnect(name: string): Promise<HostInfo> {
    if (!this.client || !this.up) throw new Error('towerd is not running');
    return this.client.call('host.reconnect', { name });
  }

  private async attempt(): Promise<void> {
    this.timer = undefined;
    let c: TowerClient;
    try {
      c = await this.connect(this.socket);
    } catch {
      this.lost(); // not running yet, or its socket is gone: the down view says so
      return;
    }
    if (this.stopped) return c.close();
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      if (this.client === c) this.client = undefined;
      this.lost();
    };
    c.onClose(end);
    // events that arrive before the snapshot are replayed onto it, in order: each carries whole host objects,
    // so one the snapshot already reflects changes nothing, and one it missed is not lost
    let early: Event[] | undefined = [];
    try {
      await c.subscribe(BAR_TOPICS, (e) => (early ? early.push(e) : this.apply(e)));
      const s = await c.call('status');
      let view: BarView = fromSnapshot(s);
      for (const e of early) if (view.daemon === 'up') view = applyEvent(view, e);
      early = undefined;
      this.client = c;
      this.delay = undefined;
      this.up = view.daemon === 'up' ? view : undefined;
      this.onView(view);
    } catch {
      c.close(); // close() does not call onClose listeners: end by hand
      end();
    }
  }

  private apply(e: Event): void {
    if (!this.up) return;
    const view = applyEvent(this.up, e);
    this.up = view.daemon === 'up' ? view : undefined;
    this.onView(view);
  }

  private lost(): void {
    this.up = undefined;
    this.client = undefined;
    if (this.stopped) return;
    this.onView(DOWN);
    if (this.timer) return;
    this.delay = nextDelay(this.delay);
    this.timer = setTimeout(() => void this.attempt(), this.delay);
  }
}
