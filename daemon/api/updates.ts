import { ErrorCode } from '../../protocol/index.js';
import { RpcError, type Implementation } from '../rpc/dispatch.js';
import type { ApiContext } from './context.js';

export function updatesApi(ctx: ApiContext): Implementation {
  /** the named hosts (each must exist), or every host */
  const names = (hosts: string[] | undefined): string[] => {
    if (!hosts) return ctx.registry.list().map((h) => h.name);
    for (const n of hosts) if (!ctx.registry.get(n)) throw new RpcError(ErrorCode.HostNotFound, `no host named ${n}`);
    return [...new Set(hosts)];
  };
  const scheduler = () => {
    const s = ctx.updates();
    if (!s) throw new RpcError(ErrorCode.NotSupervised, 'towerd does not supervise hosts (--no-supervise or "supervise": false): no updates');
    return s;
  };
  return {
    'updates.list': async ({ hosts }) => {
      const cfg = ctx.settings().packages.updates;
      const list = names(hosts);
      const s = ctx.updates();
      return { enabled: cfg.enabled, maxConcurrent: cfg.maxConcurrent, hosts: s ? await s.list(list) : [] };
    },
    'updates.run': async ({ hosts, force }) => ({ results: await scheduler().request(names(hosts), 'run', force) }),
    'updates.check': async ({ hosts }) => ({ results: await scheduler().request(names(hosts), 'check') }),
  };
}
