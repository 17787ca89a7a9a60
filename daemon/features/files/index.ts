import type { Core, Feature } from '../../core/feature.js';
import { filesMethods } from './api.js';
import { Transfers } from './service.js';

/** `towerctl cp`, `mv`, `files log`: files between the thin client and hosts, checked, under a policy, recorded. */
export function filesFeature(core: Core): Feature {
  const t = new Transfers(core);
  return {
    name: 'files',
    methods: filesMethods(t),
    async start() {
      await t.pending.load();
      void t.cleanLeftovers();
    },
    stop: () => t.stop(),
    connectionChanged(name, online) {
      if (online) void t.cleanLeftovers(name);
    },
  };
}
