import type { ForwardManager } from '../../core/forwards/manager.js';
import type { Implementation } from '../../core/rpc/dispatch.js';

export function forwardMethods(forwards: ForwardManager): Implementation {
  return {
    'forward.open': (p) => forwards.open(p),
    'forward.list': ({ host }) => ({ forwards: forwards.list(host) }),
    'forward.close': async ({ id }) => {
      await forwards.close(id);
      return { id };
    },
  };
}
