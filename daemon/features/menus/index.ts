import type { Core, Feature } from '../../core/feature.js';
import type { PackagesPort } from '../../core/ports.js';
import { menuMethods } from './api.js';
import { MenuSync, dataHome, menusEnabled } from './sync.js';

/**
 * App menus synced from hosts (`towerctl menu`): on each connection and after each package change on a host, its
 * desktop entries and icons are read (one bounded command), checked, and written under
 * $XDG_DATA_HOME/applications/tower/HOST/ as entries that run `towerctl run HOST -- ARGV…`.
 */
export function menusFeature(core: Core, ports: { packages: Pick<PackagesPort, 'watchChanges'> }): Feature {
  const sync = new MenuSync(core, dataHome(core.paths.home));
  let unwatch: (() => void) | undefined;
  const later = (host: string) => void sync.sync(host).catch((err: unknown) => core.log.error({ host, err: (err as Error).message }, 'menu sync failed'));
  // after a connect, a host is read once it has stayed connected for menus.settleMs: a flapping link costs nothing
  const settling = new Map<string, NodeJS.Timeout>();
  const settle = (host: string) => {
    clearTimeout(settling.get(host));
    const timer = setTimeout(() => {
      settling.delete(host);
      if (core.supervisor?.get(host)?.connection) later(host);
    }, core.settings().menus.settleMs);
    timer.unref();
    settling.set(host, timer);
  };
  return {
    name: 'menus',
    methods: menuMethods(core, sync),
    start: async () => {
      unwatch = ports.packages.watchChanges?.((host) => later(host));
      await sync.prune().catch((err: unknown) => core.log.error({ err: (err as Error).message }, 'could not prune menu entries'));
    },
    stop: () => {
      unwatch?.();
      for (const t of settling.values()) clearTimeout(t);
      settling.clear();
      sync.stop();
    },
    hostsChanged: (c) => {
      for (const name of c.removed) void sync.remove(name);
    },
    connectionChanged: (name, online) => {
      if (online) settle(name);
      else {
        clearTimeout(settling.get(name));
        settling.delete(name);
      }
    },
    settingsChanged: (prev, next) => {
      let changed = false;
      const { enabled: _e, hosts: _h, ...before } = prev.menus;
      const { enabled: _e2, hosts: _h2, ...after } = next.menus;
      // folders, caps or the terminal changed: every menu is read and written again
      const reread = JSON.stringify(before) !== JSON.stringify(after);
      for (const h of core.registry.list()) {
        const was = menusEnabled(prev, h.name);
        const now = menusEnabled(next, h.name);
        if (was === now) {
          if (now && reread && core.supervisor?.get(h.name)?.connection) later(h.name);
          continue;
        }
        changed = true;
        if (now) {
          if (core.supervisor?.get(h.name)?.connection) later(h.name);
        } else void sync.remove(h.name);
      }
      return changed;
    },
    hostInfo: (name) => {
      if (!menusEnabled(core.settings(), name)) return {};
      const s = sync.state(name);
      return { menu: { apps: s.apps, lastSync: s.lastSync, lastError: s.lastError } };
    },
  };
}
