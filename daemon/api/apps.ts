import type { Implementation } from '../rpc/dispatch.js';
import type { ApiContext } from './context.js';

export function appsApi(ctx: ApiContext): Implementation {
  return {
    'apps.run': ({ host, argv, env }) => ctx.apps.run(host, argv, env),
    'apps.list': ({ host }) => ({ apps: ctx.apps.list(host) }),
    'apps.close': async ({ id }) => ({ app: await ctx.apps.close(id) }),
  };
}
