import type { Core } from '../../core/feature.js';
import { noSuchHost, notSupervised } from '../../core/errors.js';
import type { Implementation } from '../../core/rpc/dispatch.js';
import type { Auditor } from './auditor.js';

export function auditMethods(core: Core, auditor: Auditor | undefined): Implementation {
  /** the named hosts (each must exist), or every host */
  const names = (hosts: string[] | undefined): string[] => {
    if (!hosts) return core.registry.list().map((h) => h.name);
    for (const n of hosts) if (!core.registry.get(n)) throw noSuchHost(n);
    return [...new Set(hosts)];
  };
  return {
    'audit.run': async ({ hosts }) => {
      if (!auditor) throw notSupervised('nothing to audit');
      return { results: await auditor.run(names(hosts)) };
    },
    'audit.list': ({ hosts }) => ({ hosts: names(hosts).map((name) => ({ name, audit: auditor?.lastOf(name) ?? null })) }),
  };
}
