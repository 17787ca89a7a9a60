import type { Core, Feature } from '../../core/feature.js';
import type { PackagesPort } from '../../core/ports.js';
import { RelayTrail } from './relay/trail.js';
import { RelayManager } from './relay/manager.js';
import { packageMethods } from './api.js';
import { apkSessions } from './apk.js';

/** `towerctl install|remove|upgrade|relay`: apk on hosts, offline ones through the package relay and its trail. */
export function packagesFeature(core: Core): Feature & { port: PackagesPort } {
  const trail = new RelayTrail();
  const relays = new RelayManager(() => core.supervisor, () => core.settings().packages.relay, trail, core.log);
  const apk = apkSessions(core, relays);
  return { name: 'packages', methods: packageMethods(core, apk, trail), port: apk };
}
