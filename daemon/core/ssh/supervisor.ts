import type { Liveness } from '../hoststate.js';
import type { Logger } from '../log.js';
import type { Host } from '../registry/registry.js';
import { HostSession, type Attachment, type SessionOptions } from './session.js';
import { noSuchHost, notConnected } from '../errors.js';

/** When an RTT change alone is worth an event: the bar should not redraw for jitter. */
const RTT_EVENT_MIN_INTERVAL_MS = 10_000;

function rttWorthReporting(prev: number | null, next: number | null): boolean {
  if (prev === null || next === null) return prev !== next;
  const delta = Math.abs(next - prev);
  return delta > 5 || delta > prev * 0.5;
}

/**
 * One HostSession per registered host, following the registry: hosts added are connected, removed ones closed,
 * changed ones (address, user, key) reconnected. State changes go to `onState` (the daemon publishes them).
 */
export class Supervisor {
  private readonly sessions = new Map<string, HostSession>();
  /** attachments by host, kept here so that they move to a new session when a host's address or key changes */
  private readonly attachments = new Map<string, Set<Attachment>>();
  private readonly published = new Map<string, { state: string; lastError: string | null; rttMs: number | null; at: number }>();

  constructor(
    private opts: SessionOptions,
    private readonly log: Logger,
    private readonly onState: (host: Host, l: Liveness, changed: boolean) => void,
  ) {}

  get(name: string): HostSession | undefined {
    return this.sessions.get(name);
  }

  /** The host's session if it is connected now; otherwise the TowerError that says why not. */
  connected(name: string): HostSession {
    const s = this.sessions.get(name);
    if (!s) throw noSuchHost(name);
    if (!s.connection) throw notConnected(name, s.state);
    return s;
  }

  all(): HostSession[] {
    return [...this.sessions.values()];
  }

  attach(name: string, a: Attachment): void {
    let set = this.attachments.get(name);
    if (!set) this.attachments.set(name, (set = new Set()));
    set.add(a);
    this.sessions.get(name)?.attach(a);
  }

  detach(name: string, a: Attachment): void {
    this.attachments.get(name)?.delete(a);
    this.sessions.get(name)?.detach(a);
  }

  setOptions(opts: SessionOptions): void {
    this.opts = opts;
  }

  /** Bring the set of sessions in line with the registry. */
  sync(hosts: Host[]): void {
    const wanted = new Map(hosts.map((h) => [h.name, h]));
    for (const [name, s] of this.sessions) {
      const h = wanted.get(name);
      if (!h) {
        s.stop();
        this.sessions.delete(name);
        this.published.delete(name);
        this.attachments.delete(name);
      } else if (h.ip !== s.host.ip || h.user !== s.host.user || h.identityFile !== s.host.identityFile) {
        s.stop();
        this.sessions.delete(name);
      }
    }
    for (const h of hosts) {
      const existing = this.sessions.get(h.name);
      if (existing) {
        // colour or role edits do not need a new connection, but the session must report the new facts
        Object.assign(existing.host, h);
        continue;
      }
      const s = new HostSession({ ...h }, this.opts, this.log.child({ host: h.name }));
      s.on('state', (l) => this.report(s, l));
      this.sessions.set(h.name, s);
      for (const a of this.attachments.get(h.name) ?? []) s.attach(a);
      s.start();
      this.report(s, s.state);
    }
  }

  /** known_hosts changed: hosts refused for their key get another chance. */
  knownHostsChanged(): void {
    for (const s of this.sessions.values()) if (s.state.state === 'hostkey-mismatch') s.reconnectNow();
  }

  stopAll(): void {
    for (const s of this.sessions.values()) s.stop();
    this.sessions.clear();
  }

  private report(s: HostSession, l: Liveness): void {
    const last = this.published.get(s.host.name);
    const now = Date.now();
    const changed =
      !last ||
      last.state !== l.state ||
      last.lastError !== l.lastError ||
      (rttWorthReporting(last.rttMs, l.rttMs) && now - last.at >= RTT_EVENT_MIN_INTERVAL_MS);
    if (changed) this.published.set(s.host.name, { state: l.state, lastError: l.lastError, rttMs: l.rttMs, at: now });
    this.onState(s.host, l, changed);
  }
}
