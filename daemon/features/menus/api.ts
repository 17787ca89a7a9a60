import type { Core } from '../../core/feature.js';
import { TowerError } from '../../core/errors.js';
import type { Implementation } from '../../core/rpc/dispatch.js';
import type { MenuSync } from './sync.js';

export function menuMethods(core: Core, sync: MenuSync): Implementation {
  const known = (host: string | undefined) => {
    if (host && !core.registry.get(host)) throw new TowerError('HostNotFound', `no host named ${host}`);
  };
  const states = (host: string | undefined) => (host ? [host] : core.registry.list().map((h) => h.name)).map((name) => ({ name, menu: sync.state(name) }));
  return {
    'menus.list': ({ host }) => {
      known(host);
      return { apps: sync.apps(host), hosts: states(host) };
    },
    'menus.sync': async ({ host }) => {
      known(host);
      if (host) {
        core.connected(host);
        await sync.sync(host);
      } else {
        const names = core.registry.list().map((h) => h.name).filter((n) => core.supervisor?.get(n)?.connection);
        await Promise.all(names.map((n) => sync.sync(n)));
      }
      return { hosts: states(host) };
    },
  };
}
