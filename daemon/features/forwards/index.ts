import type { Core, Feature } from '../../core/feature.js';
import { forwardMethods } from './api.js';

/** `towerctl forward`: user-opened forwards over the core's forward layer; a removed host's go with it. */
export function forwardsFeature(core: Core): Feature {
  return {
    name: 'forwards',
    methods: forwardMethods(core.forwards),
    hostsChanged: (c) => {
      for (const name of c.removed) void core.forwards.closeHost(name);
    },
    stop: () => core.forwards.closeAll(),
  };
}
