import type { Core, Feature } from '../../core/feature.js';
import { execMethods } from './api.js';

/** `towerctl exec`, `ssh` and `poweroff`: commands on a host over its supervised connection. */
export function execFeature(core: Core): Feature {
  return { name: 'exec', methods: execMethods(core) };
}
