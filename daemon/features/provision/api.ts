import type { Core } from '../../core/feature.js';
import { TowerError } from '../../core/errors.js';
import { ProvisionError, planProvision, runProvision, type ProvisionDeps } from './job.js';
import type { Implementation } from '../../core/rpc/dispatch.js';

export function provisionMethods(core: Core): Implementation {
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
  /** one job per target and per host name at a time */
  const busy = new Set<string>();
  return {
    'provision.check': async (p) => (await planProvision(deps, p)).plan,
    'provision.run': async (p, conn) => {
      const keys = [`target:${p.target.path}`, `host:${p.name}`];
      const taken = keys.find((k) => busy.has(k));
      if (taken) throw new TowerError('TargetRefused', `a provisioning of ${taken.slice(taken.indexOf(':') + 1)} is already running`);
      for (const k of keys) busy.add(k);
      // the job belongs to the client that asked for it: when that connection goes (Ctrl-C), the write stops
      const abort = new AbortController();
      const unwatch = conn.onClose(() => abort.abort(new Error('the client went away')));
      try {
        return await runProvision(deps, p, abort.signal);
      } finally {
        unwatch();
        for (const k of keys) busy.delete(k);
      }
    },
  };
}
