import type { HostInfo, RegistryStatus, Status } from '../../protocol/index.js';
import type { EventHub } from './events.js';
import type { ForwardManager } from './forwards/manager.js';
import type { LogRing, Logger } from './log.js';
import type { Paths } from '../shared/paths.js';
import type { Host, RegistryChange, Registry } from './registry/registry.js';
import type { Implementation } from './rpc/dispatch.js';
import type { Settings } from './settings.js';
import type { HostSession } from './ssh/session.js';
import type { Supervisor } from './ssh/supervisor.js';

/**
 * What every feature may use: the registry, the supervised connections and what rides on them, settings, events
 * and logs. A feature gets this and the declared ports of the features it names, never the daemon itself.
 */
export interface Core {
  readonly paths: Paths;
  readonly socketPath: string;
  /** towerd's private runtime folder (the API socket's): per-feature sockets and records live here */
  readonly runtimeDir: string;
  readonly startedAt: Date;
  readonly log: Logger;
  readonly ring: LogRing;
  readonly hub: EventHub;
  readonly registry: Registry;
  /** forwards and other channels that follow a host's connection */
  readonly forwards: ForwardManager;
  /** undefined when towerd does not supervise hosts (`--no-supervise`, `"supervise": false`) */
  readonly supervisor: Supervisor | undefined;
  settings(): Settings;
  /** settings first (networks decide roles), then the registry, as SIGHUP does */
  reload(): Promise<RegistryStatus>;
  /** the host's session if it is connected now; otherwise the TowerError that says why not */
  connected(name: string): HostSession;
  /** a host as the API shows it: registry facts, connection, and every feature's part */
  hostInfo(host: Host): HostInfo;
  /** what hostInfo shows of this host changed: tell subscribers */
  hostChanged(name: string): void;
  rpcConnections(): number;
  /** every feature's part of the `status` result beside the hosts */
  statusParts(): StatusPart;
}

/** The part of HostInfo a feature owns (sound, clipboard, updates, …). */
export type HostInfoPart = Partial<Pick<HostInfo, 'sound' | 'clipboard' | 'updates' | 'posture' | 'menu' | 'clock' | 'reinstall' | 'backup'>>;

/** The part of the `status` result a feature owns, beside hosts and registry (the thin client's own state export). */
export type StatusPart = Partial<Pick<Status, 'stateExport'>>;

/**
 * One feature of towerd: its RPC methods, its lifecycle, and what it does when hosts or their connections change.
 * towerd holds a list of these (daemon/features.ts) and calls each hook in list order (stop in reverse).
 */
export interface Feature {
  readonly name: string;
  /** the protocol methods this feature implements (protocol/ defines them; towerd refuses a method with no owner) */
  readonly methods: Implementation;
  start?(): Promise<void> | void;
  stop?(): Promise<void> | void;
  /** the registry changed: hosts added, removed or updated */
  hostsChanged?(change: RegistryChange): void;
  /** a host's connection changed state (not every RTT update) */
  connectionChanged?(name: string, online: boolean): void;
  /** towerd.json was re-read; true when what hostInfo shows may have changed for every host */
  settingsChanged?(prev: Settings, next: Settings): boolean | void;
  /** this feature's part of a host's HostInfo */
  hostInfo?(name: string): HostInfoPart;
  /** this feature's part of the `status` result */
  statusPart?(): StatusPart;
}
