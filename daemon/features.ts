import type { Core, Feature } from './core/feature.js';
import { appsFeature } from './features/apps/index.js';
import { auditFeature } from './features/audit/index.js';
import { backupFeature } from './features/backup/index.js';
import { clipboardFeature } from './features/clipboard/index.js';
import { execFeature } from './features/exec/index.js';
import { forwardsFeature } from './features/forwards/index.js';
import { packagesFeature } from './features/packages/index.js';
import { provisionFeature } from './features/provision/index.js';
import { setupFeature } from './features/setup/index.js';
import { soundFeature } from './features/sound/index.js';
import { updatesFeature } from './features/updates/index.js';

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
  const updates = updatesFeature(core, { apps: opts.runningApps ? { running: opts.runningApps } : apps.port, packages: packages.port });
  const provision = provisionFeature(core);
  const backup = backupFeature(core);
  const setup = setupFeature(core, { packages: packages.port, sound: sound.port, backup: backup.port });
  const audit = auditFeature(core);
  return [forwards, exec, sound, apps, clipboard, packages, updates, provision, setup, audit, backup];
}
