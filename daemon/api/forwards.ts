import type { Implementation } from '../rpc/dispatch.js';
import type { ApiContext } from './context.js';

export function forwardsApi(ctx: ApiContext): Implementation {
  return {
    'forward.open': (p) => ctx.forwards.open(p),
    'forward.list': ({ host }) => ({ forwards: ctx.forwards.list(host) }),
    'forward.close': async ({ id }) => {
      await ctx.forwards.close(id);
      return { id };
    },
  };
}
