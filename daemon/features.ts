import type { Core, Feature } from './core/feature.js';
import { appsFeature } from './features/apps/index.js';
import { auditFeature } from './features/audit/index.js';
import { backupFeature } from './features/backup/index.js';
import { clockFeature } from './features/clock/index.js';
import { clipboardFeature } from './features/clipboard/index.js';
import { execFeature } from './features/exec/index.js';
import { filesFeature } from './features/files/index.js';
import { forwardsFeature } from './features/forwards/index.js';
import { menusFeature } from './features/menus/index.js';
import { keysFeature } from './features/keys/index.js';
import { packagesFeature } from './features/packages/index.js';
import { provisionFeature } from './features/provision/index.js';
import { setupFeature } from './features/setup/index.js';
import { soundFeature } from './features/sound/index.js';
import { updatesFeature } from './features/updates/index.js';
import { exportFeature } from './features/export/index.js';
import { wlanFeature } from './features/wlan/index.js';

export interface FeatureOptions {
  /** apps running on a host now, instead of the apps feature's count (a test seam for automatic updates) */
  runningApps?: ((host: string) => number) | undefined;
}

/**
 * towerd's features, one line each, in the order their hooks run (stop runs in reverse). A feature that uses another
 * names the other's declared port (core/ports.ts) here.
 */
export function features(core: Core, opts: FeatureOptions = {}): Feature[] {
  const forwards = forwardsFeature(core);
  const exec = execFeature(core);
  const sound = soundFeature(core);
  const apps = appsFeature(core, { sound: sound.port });
  const clipboard = clipboardFeature(core, { apps: apps.port, sound: sound.port });
  const packages = packagesFeature(core);
  const running = opts.runningApps ? { running: opts.runningApps } : apps.port;
  const updates = updatesFeature(core, { apps: running, packages: packages.port });
  const provision = provisionFeature(core, { apps: running, packages: packages.port });
  const clock = clockFeature(core);
  const backup = backupFeature(core);
  const setup = setupFeature(core, { packages: packages.port, sound: sound.port, clock: clock.port, backup: backup.port });
  const audit = auditFeature(core);
  const menus = menusFeature(core, { packages: packages.port });
  const stateExport = exportFeature(core);
  const files = filesFeature(core);
  const keys = keysFeature(core);
  const wlan = wlanFeature(core);
  return [forwards, exec, sound, apps, clipboard, packages, updates, provision, clock, setup, audit, backup, menus, stateExport, files, keys, wlan];
}
