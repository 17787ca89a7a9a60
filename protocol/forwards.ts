import * as z from 'zod/mini';
import { HostName } from './host.js';

const Port = z.int().check(z.gte(0), z.lte(65535));
const AbsPath = z.string().check(z.regex(/^\/[^\0]*$/, 'an absolute path'), z.maxLength(107));

/** One end of a forward: a TCP address or a Unix socket path. */
export const Endpoint = z.union([
  z.strictObject({ tcp: z.strictObject({ host: z.string().check(z.minLength(1), z.maxLength(253)), port: Port }) }),
  z.strictObject({ unix: AbsPath }),
]);
export type Endpoint = z.infer<typeof Endpoint>;

export const ForwardDirection = z.enum(['local', 'remote']);
export type ForwardDirection = z.infer<typeof ForwardDirection>;

export const ForwardState = z.enum(['active', 'waiting', 'failed']);

export const ForwardInfo = z.object({
  id: z.string(),
  host: HostName,
  direction: ForwardDirection.check(z.describe('local: listen on the thin client, connect from the host; remote: the reverse')),
  listen: Endpoint.check(z.describe('where the forward listens; a requested port 0 shows the port that was assigned')),
  connect: Endpoint,
  state: ForwardState.check(z.describe('waiting: the host is not connected (or its listener is not bound yet)')),
  lastError: z.nullable(z.string()),
  openConnections: z.int(),
  totalConnections: z.int(),
  bytesToHost: z.number(),
  bytesFromHost: z.number(),
});
export type ForwardInfo = z.infer<typeof ForwardInfo>;

export const OpenForwardParams = z.strictObject({
  host: HostName,
  direction: ForwardDirection,
  listen: Endpoint,
  connect: Endpoint,
});
