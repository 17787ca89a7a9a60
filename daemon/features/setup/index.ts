import type { Core, Feature } from '../../core/feature.js';
import type { BackupPort, ClockPort, PackagesPort, SoundPort } from '../../core/ports.js';
import { setupMethods } from './api.js';

/** What Tower needs on hosts and on the thin client: `towerctl host setup`'s check and `towerctl doctor`. */
export function setupFeature(core: Core, ports: { packages: PackagesPort; sound: SoundPort; clock: ClockPort; backup?: BackupPort }): Feature {
  return { name: 'setup', methods: setupMethods(core, { core, ...ports }) };
}
