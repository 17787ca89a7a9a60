import type { Implementation } from '../rpc/dispatch.js';
import type { ApiContext } from './context.js';

export function eventsApi(ctx: ApiContext): Implementation {
  return {
    'events.subscribe': ({ topics }, conn) => ({ topics: ctx.hub.subscribe(conn, topics) }),
    'logs.tail': ({ lines, level }) => ({ records: ctx.ring.tail(lines, level) }),
  };
}
