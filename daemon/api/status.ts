import { TOWER_VERSION } from '../../protocol/index.js';
import type { Implementation } from '../rpc/dispatch.js';
import type { ApiContext } from './context.js';

export function statusApi(ctx: ApiContext): Implementation {
  return {
    status: () => {
      const hosts = ctx.registry.list().map((h) => ctx.states.info(h));
      const online = hosts.filter((h) => h.state === 'online').length;
      // a host being provisioned has not come up yet: it is not down
      const down = hosts.filter((h) => !['online', 'unsupervised', 'provisioning'].includes(h.state)).length;
      return {
        daemon: { version: TOWER_VERSION, pid: process.pid, uptimeMs: Date.now() - ctx.startedAt.getTime() },
        registry: ctx.registry.getStatus(),
        hosts,
        summary: { total: hosts.length, online, down },
      };
    },
  };
}
