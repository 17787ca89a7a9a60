import type { Core, Feature } from '../../core/feature.js';
import { provisionMethods } from './api.js';

/** `towerctl provision`: a new host's boot media with its keys pinned before it first boots. */
export function provisionFeature(core: Core): Feature {
  return { name: 'provision', methods: provisionMethods(core) };
}
