import type { HostInfo, HostState } from '../protocol/index.js';
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

  info(host: Host): HostInfo {
    return { ...host, ...this.get(host.name) };
  }
}
