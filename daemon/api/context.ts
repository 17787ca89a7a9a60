import type { EventHub } from '../events.js';
import type { HostStates } from '../hoststate.js';
import type { LogRing, Logger } from '../log.js';
import type { Paths } from '../paths.js';
import type { Registry } from '../registry/registry.js';
import type { RegistryStatus } from '../../protocol/index.js';
import type { Supervisor } from '../ssh/supervisor.js';
import type { ForwardManager } from '../forwards/manager.js';
import type { Settings } from '../settings.js';
import type { RelayManager } from '../packages/relays.js';
import type { RelayAuditLog } from '../packages/audit.js';

/** What API modules may use. Each module gets only this, never the daemon object itself. */
export interface ApiContext {
  paths: Paths;
  socketPath: string;
  startedAt: Date;
  registry: Registry;
  states: HostStates;
  ring: LogRing;
  hub: EventHub;
  log: Logger;
  reload(): Promise<RegistryStatus>;
  /** undefined when towerd does not supervise hosts */
  supervisor(): Supervisor | undefined;
  forwards: ForwardManager;
  settings(): Settings;
  relays: RelayManager;
  relayAudit: RelayAuditLog;
  rpcConnections(): number;
}
