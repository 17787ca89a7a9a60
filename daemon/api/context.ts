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
import type { AppManager } from '../apps/manager.js';
import type { ClipboardService } from '../desktop/clipboard.js';
import type { SoundManager } from '../desktop/sound.js';
import type { UpdateScheduler } from '../packages/updates.js';

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
  /** automatic security updates; undefined when towerd does not supervise hosts */
  updates(): UpdateScheduler | undefined;
  rpcConnections(): number;
  /** GUI apps on hosts (towerctl run) */
  apps: AppManager;
  /** clipboard transfers between hosts' app displays and the thin client (desktop.clipboard) */
  clipboard: ClipboardService;
  /** per-host PulseAudio forwards (desktop.sound) */
  sound: SoundManager;
}
