import type { Core } from '../../core/feature.js';
import type { AppsPort, PackagesPort } from '../../core/ports.js';
import { planReprovision, runReprovision, type ReinstallDeps, type Reinstalls } from './reinstall.js';
import { TowerError } from '../../core/errors.js';
import { ProvisionError, planProvision, runProvision, type ProvisionDeps } from './job.js';
import type { Implementation } from '../../core/rpc/dispatch.js';

export function provisionMethods(core: Core, ports: { apps: Pick<AppsPort, 'running'>; packages: Pick<PackagesPort, 'restoreWorld'> }, reinstalls: Reinstalls): Implementation {
  const deps: ProvisionDeps = {
    paths: core.paths,
    registry: core.registry,
    settings: () => core.settings(),
    supervised: () => core.supervisor !== undefined,
    publish: (e) => core.hub.publish(e),
    info: (name) => {
      const h = core.registry.get(name);
      if (!h) throw new ProvisionError(`${name} vanished from the registry while it was being provisioned`);
      return core.hostInfo(h);
    },
    log: core.log,
  };
  const reinstallDeps: ReinstallDeps = {
    ...deps,
    apps: ports.apps,
    packages: ports.packages,
    connected: (name) => core.connected(name),
    hostChanged: (name) => core.hostChanged(name),
  };
  /** one job per target and per host name at a time */
  const busy = new Set<string>();
  /** the job belongs to the client that asked for it: when that connection goes (Ctrl-C), the write stops */
  const exclusive = async <T>(name: string, path: string, conn: { onClose(fn: () => void): () => void }, job: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const keys = [`target:${path}`, `host:${name}`];
    const taken = keys.find((k) => busy.has(k));
    if (taken) throw new TowerError('TargetRefused', `a provisioning of ${taken.slice(taken.indexOf(':') + 1)} is already running`);
    for (const k of keys) busy.add(k);
    const abort = new AbortController();
    const unwatch = conn.onClose(() => abort.abort(new Error('the client went away')));
    try {
      return await job(abort.signal);
    } finally {
      unwatch();
      for (const k of keys) busy.delete(k);
    }
  };
  return {
    'reprovision.check': async (p) => (await planReprovision(reinstallDeps, p)).plan,
    'reprovision.run': (p, conn) => exclusive(p.name, p.target.kind === 'host' ? `${p.name}:boot` : p.target.path, conn, (signal) => runReprovision(reinstallDeps, p, signal, (name, m) => reinstalls.mark(name, m))),
    'provision.check': async (p) => (await planProvision(deps, p)).plan,
    'provision.run': (p, conn) => exclusive(p.name, p.target.path, conn, (signal) => runProvision(deps, p, signal)),
  };
}
