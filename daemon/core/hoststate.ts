import type { HostInfo, HostState } from '../../protocol/index.js';
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

  get(name: string): Liveness {
    return this.table.get(name) ?? UNSUPERVISED;
  }

  set(name: string, l: Liveness): void {
    this.table.set(name, l);
  }

  delete(name: string): void {
    this.table.delete(name);
  }

  /** Registry facts and connection state; features add their parts (core/feature.ts). */
  info(host: Host): HostInfo {
    const { provisioning, ...facts } = host;
    const live = this.get(host.name);
    // a provisioned host that was never reached is expected to be away (its card is being moved, it is installing):
    // `provisioning` until the first contact, unless it answered with a wrong key or refused ours
    const waiting = live.state === 'connecting' || live.state === 'offline' || live.state === 'unsupervised';
    return { ...facts, ...live, state: provisioning && waiting ? 'provisioning' : live.state };
  }
}
