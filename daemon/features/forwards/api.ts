import type { ForwardManager } from '../../forwards/manager.js';
import type { Implementation } from '../../rpc/dispatch.js';

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
