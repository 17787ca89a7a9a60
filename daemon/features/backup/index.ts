import type { Core, Feature } from '../../core/feature.js';
import type { BackupPort } from '../../core/ports.js';
import { noSuchHost, notSupervised } from '../../core/errors.js';
import type { Implementation } from '../../core/rpc/dispatch.js';
import { BackupService } from './service.js';
import { fileStore } from './store.js';

function methods(core: Core, service: BackupService | undefined): Implementation {
  const known = (hosts: string[] | undefined) => {
    for (const n of hosts ?? []) if (!core.registry.get(n)) throw noSuchHost(n);
    return hosts ? [...new Set(hosts)] : undefined;
  };
  const running = () => {
    if (!service) throw notSupervised('no backups');
    return service;
  };
  return {
    'backup.list': async ({ hosts }) => ({ maxConcurrent: core.settings().backup.maxConcurrent, sets: service ? await service.list(known(hosts)) : [] }),
    'backup.run': async ({ hosts, set }) => ({ results: await running().run(known(hosts), set, 'backup') }),
    'backup.verify': async ({ hosts, set }) => ({ results: await running().run(known(hosts), set, 'verify') }),
    'backup.snapshots': async ({ host, set }) => {
      known([host]);
      const r = await running().snapshots(host, set);
      return { host, set: r.set.name, snapshots: r.snapshots };
    },
    'backup.restore': async (p) => {
      known([p.host]);
      return running().restore(p);
    },
  };
}

/**
 * Backups (`towerctl backup`): restic on each set's source host writes to a repository on its storage host, which it
 * reaches only through towerd. Without supervision there is nothing to run; the methods say so.
 */
export function backupFeature(core: Core): Feature & { port: BackupPort } {
  const service = core.supervisor
    ? new BackupService(core, fileStore(core.paths.hostsDir), (host, set) => {
        const h = core.registry.get(host);
        if (h) core.hub.publish({ type: 'host.backup', topic: 'hosts', host: core.hostInfo(h), set });
      })
    : undefined;
  return {
    name: 'backup',
    methods: methods(core, service),
    start: () => service?.start(),
    stop: () => service?.stop(),
    hostsChanged: () => service?.poke(),
    connectionChanged: (name, online) => service?.noteState(name, online),
    settingsChanged: () => {
      service?.poke();
      return true;
    },
    hostInfo: (name) => {
      const backup = service?.summary(name);
      return backup ? { backup } : {};
    },
    port: { sets: (host) => core.settings().backup.sets.filter((s) => s.host === host).length },
  };
}
