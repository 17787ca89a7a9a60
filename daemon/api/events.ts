import { MAX_FRAME_BYTES } from '../../protocol/index.js';
import type { Implementation } from '../rpc/dispatch.js';
import type { ApiContext } from './context.js';

/** The newest records that fit one reply frame, with room for the envelope and a record's few extra names each. */
const TAIL_BYTES = MAX_FRAME_BYTES - 128 * 1024;

export function eventsApi(ctx: ApiContext): Implementation {
  return {
    'events.subscribe': ({ topics }, conn) => ({ topics: ctx.hub.subscribe(conn, topics) }),
    'logs.tail': ({ lines, level }) => ({ records: ctx.ring.tail(lines, level, TAIL_BYTES) }),
  };
}
