import type { ClipboardMode, HostInfo, HostState, SoundState, UpdateSummary } from '../protocol/index.js';
import type { Host } from './registry/registry.js';

export interface Liveness {
  state: HostState;
  lastError: string | null;
  lastContact: string | null;
  rttMs: number | null;
}

const UNSUPERVISED: Liveness = { state: 'unsupervised', lastError: null, lastContact: null, rttMs: null };

/** Connection facts per host, kept apart from the registry's on-disk facts and merged for the API. */
export class HostStates {
  private readonly table = new Map<string, Liveness>();
  private readonly updates = new Map<string, UpdateSummary>();
  /** sound and clipboard of a host (daemon/desktop/), set once at start */
  private desktop: ((name: string) => { sound: SoundState; clipboard: ClipboardMode }) | undefined;

  setDesktop(fn: (name: string) => { sound: SoundState; clipboard: ClipboardMode }): void {
    this.desktop = fn;
  }

  get(name: string): Liveness {
    return this.table.get(name) ?? UNSUPERVISED;
  }

  set(name: string, l: Liveness): void {
    this.table.set(name, l);
  }

  delete(name: string): void {
    this.table.delete(name);
    this.updates.delete(name);
  }

  /** The host's automatic updates as HostInfo shows them; undefined: off for that host. */
  setUpdates(name: string, u: UpdateSummary | undefined): void {
    if (u) this.updates.set(name, u);
    else this.updates.delete(name);
  }

  info(host: Host): HostInfo {
    const { provisioning, ...facts } = host;
    const live = this.get(host.name);
    // a provisioned host that was never reached is expected to be away (its card is being moved, it is installing):
    // `provisioning` until the first contact, unless it answered with a wrong key or refused ours
    const waiting = live.state === 'connecting' || live.state === 'offline' || live.state === 'unsupervised';
    const updates = this.updates.get(host.name);
    return { ...facts, ...live, state: provisioning && waiting ? 'provisioning' : live.state, ...this.desktop?.(host.name), ...(updates ? { updates } : {}) };
  }
}
