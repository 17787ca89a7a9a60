import type { Core, Feature } from '../../core/feature.js';
import type { AppsPort, PackagesPort } from '../../core/ports.js';
import { provisionMethods } from './api.js';
import { Reinstalls } from './reinstall.js';

/**
 * `towerctl provision` and `reprovision`: a new host's boot media with its keys pinned before it first boots, and new
 * media for an existing host with the identity it has, its saved world restored on its first connection.
 */
export function provisionFeature(core: Core, ports: { apps: Pick<AppsPort, 'running'>; packages: Pick<PackagesPort, 'restoreWorld'> }): Feature {
  const reinstalls = new Reinstalls({
    paths: core.paths,
    log: core.log,
    settings: () => core.settings(),
    packages: ports.packages,
    connected: (name) => core.connected(name),
    hostChanged: (name) => core.hostChanged(name),
  });
  return {
    name: 'provision',
    methods: provisionMethods(core, ports, reinstalls),
    start: async () => {
      await Promise.all(core.registry.list().map((h) => reinstalls.load(h.name)));
    },
    hostsChanged: (c) => {
      for (const name of c.removed) reinstalls.forget(name);
      for (const h of c.added) void reinstalls.load(h.name);
    },
    connectionChanged: (name, online) => reinstalls.connectionChanged(name, online),
    hostInfo: (name) => {
      const reinstall = reinstalls.info(name);
      return reinstall ? { reinstall } : {};
    },
  };
}
