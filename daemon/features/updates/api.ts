import type { AlpineRelease } from '../../../protocol/host.js';
import type { Core } from '../../core/feature.js';
import { noSuchHost, notSupervised } from '../../core/errors.js';
import type { Implementation } from '../../core/rpc/dispatch.js';
import type { UpdateScheduler } from './scheduler.js';

export function updateMethods(core: Core, scheduler: UpdateScheduler | undefined, release: (name: string) => AlpineRelease | undefined = () => undefined): Implementation {
  /** the named hosts (each must exist), or every host */
  const names = (hosts: string[] | undefined): string[] => {
    if (!hosts) return core.registry.list().map((h) => h.name);
    for (const n of hosts) if (!core.registry.get(n)) throw noSuchHost(n);
    return [...new Set(hosts)];
  };
  const running = () => {
    if (!scheduler) throw notSupervised('no updates');
    return scheduler;
  };
  const withRelease = <T extends object>(u: T, r: AlpineRelease | undefined): T => (r ? { ...u, release: r } : u);
  return {
    'updates.list': async ({ hosts }) => {
      const cfg = core.settings().packages.updates;
      const list = names(hosts);
      return { enabled: cfg.enabled, maxConcurrent: cfg.maxConcurrent, hosts: scheduler ? (await scheduler.list(list)).map((u) => withRelease(u, release(u.name))) : [] };
    },
    'updates.run': async ({ hosts, force }) => ({ results: await running().request(names(hosts), 'run', force) }),
    'updates.check': async ({ hosts }) => ({ results: await running().request(names(hosts), 'check') }),
  };
}
