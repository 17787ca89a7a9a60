import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcServer } from '../../daemon/core/rpc/server.js';
import { exchange } from '../helpers/towerd.js';

/**
 * The examples of the JSON-RPC 2.0 specification (section 7), verbatim, against towerd's transport with the
 * spec's own example methods. The methods are the spec's; framing, envelope checks and errors are towerd's.
 */
const methods = {
  subtract: (p: unknown) => {
    if (Array.isArray(p)) return Promise.resolve((p[0] as number) - (p[1] as number));
    const o = p as { minuend: number; subtrahend: number };
    return Promise.resolve(o.minuend - o.subtrahend);
  },
  sum: (p: unknown) => Promise.resolve((p as number[]).reduce((a, b) => a + b, 0)),
  update: () => Promise.resolve(null),
  notify_hello: () => Promise.resolve(null),
  notify_sum: () => Promise.resolve(null),
  get_data: () => Promise.resolve(['hello', 5]),
};

const SENTINEL = '{"jsonrpc":"2.0","method":"sum","params":[40,2],"id":"sentinel"}';
const SENTINEL_REPLY = { jsonrpc: '2.0', result: 42, id: 'sentinel' };

let server: RpcServer;
let socket: string;

beforeAll(async () => {
  socket = join(mkdtempSync(join(tmpdir(), 'rpc-')), 's.sock');
  server = new RpcServer(pino({ level: 'silent' }), methods, { maxFrameBytes: 4096 });
  await server.listen(socket);
});
afterAll(() => server.close());

async function one(line: string): Promise<unknown> {
  const { replies } = await exchange(socket, line + '\n', 1, 1000);
  return replies[0];
}

describe('JSON-RPC 2.0 specification examples', () => {
  it('positional parameters', async () => {
    expect(await one('{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}')).toEqual({ jsonrpc: '2.0', result: 19, id: 1 });
    expect(await one('{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}')).toEqual({ jsonrpc: '2.0', result: -19, id: 2 });
  });

  it('named parameters', async () => {
    expect(await one('{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}')).toEqual({ jsonrpc: '2.0', result: 19, id: 3 });
    expect(await one('{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}')).toEqual({ jsonrpc: '2.0', result: 19, id: 4 });
  });

  it('notifications get no reply', async () => {
    // a request after them proves the connection is answering: its reply is the only one
    const { replies } = await exchange(socket, `{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}\n{"jsonrpc": "2.0", "method": "foobar"}\n${SENTINEL}\n`, 2, 500);
    expect(replies).toEqual([SENTINEL_REPLY]);
  });

  it('non-existent method', async () => {
    expect(await one('{"jsonrpc": "2.0", "method": "foobar", "id": "1"}')).toEqual({ jsonrpc: '2.0', error: { code: -32601, message: 'Method not found' }, id: '1' });
  });

  it('invalid JSON', async () => {
    expect(await one('{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]')).toEqual({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null });
  });

  it('invalid Request object', async () => {
    expect(await one('{"jsonrpc": "2.0", "method": 1, "params": "bar"}')).toMatchObject({ jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null });
  });

  it('batch, invalid JSON', async () => {
    expect(await one('[ {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method" ]')).toEqual({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null });
  });

  it('empty array', async () => {
    expect(await one('[]')).toMatchObject({ jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null });
  });

  it('invalid batch, but not empty', async () => {
    expect(await one('[1]')).toEqual([{ jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null }]);
  });

  it('invalid batch', async () => {
    const r = (await one('[1,2,3]')) as unknown[];
    expect(r).toHaveLength(3);
    for (const e of r) expect(e).toEqual({ jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null });
  });

  it('batch with a mix', async () => {
    const r = (await one(`[
        {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
    ]`.replace(/\n\s*/g, ' '))) as { id: unknown }[];
    expect(r).toHaveLength(5);
    expect(r).toEqual(
      expect.arrayContaining([
        { jsonrpc: '2.0', result: 7, id: '1' },
        { jsonrpc: '2.0', result: 19, id: '2' },
        expect.objectContaining({ jsonrpc: '2.0', error: expect.objectContaining({ code: -32600, message: 'Invalid Request' }), id: null }),
        { jsonrpc: '2.0', error: { code: -32601, message: 'Method not found' }, id: '5' },
        { jsonrpc: '2.0', result: ['hello', 5], id: '9' },
      ]),
    );
  });

  it('batch of notifications only: nothing is returned', async () => {
    const { replies } = await exchange(socket, `[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]\n${SENTINEL}\n`, 2, 500);
    expect(replies).toEqual([SENTINEL_REPLY]);
  });
});

describe('transport limits', () => {
  it('a frame over the limit is refused and that connection closed; others carry on', async () => {
    const { replies, closed } = await exchange(socket, 'x'.repeat(5000), 2, 2000);
    expect(replies).toEqual([{ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Frame exceeds 4096 bytes' } }]);
    expect(closed).toBe(true);
    expect(await one('{"jsonrpc":"2.0","method":"sum","params":[1,1],"id":7}')).toEqual({ jsonrpc: '2.0', result: 2, id: 7 });
  });

  it('invalid UTF-8 is a parse error, and that connection is closed; others carry on', async () => {
    const bad = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","method":"sum","params":[1],"id":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]);
    const after = Buffer.from('{"jsonrpc":"2.0","method":"sum","params":[2],"id":2}\n');
    const { replies, closed } = await exchange(socket, Buffer.concat([bad, after]), 2, 2000);
    expect(replies).toEqual([{ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error', data: { reason: 'frame is not valid UTF-8' } } }]);
    expect(closed).toBe(true);
    expect(await one(SENTINEL)).toEqual(SENTINEL_REPLY);
  });

  it('a frame that is not JSON closes the connection after its parse error; what followed is not run', async () => {
    const { replies, closed } = await exchange(socket, `{"jsonrpc": "2.0", "method"\n${SENTINEL}\n`, 2, 2000);
    expect(replies).toEqual([{ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null }]);
    expect(closed).toBe(true);
  });

  it.each([
    ['{"jsonrpc":"2.0","method":"sum","params":[1],"id":{"a":1}}', 'an object id'],
    ['{"jsonrpc":"2.0","method":"sum","params":5,"id":1}', 'scalar params'],
    ['{"jsonrpc":"1.0","method":"sum","params":[1],"id":1}', 'wrong version'],
    ['{"jsonrpc":"2.0","method":"sum","params":[1],"id":1,"extra":true}', 'an unknown member'],
    ['"just a string"', 'a bare string'],
    ['null', 'null'],
  ])('%s (%s) is an invalid request', async (line) => {
    expect(await one(line)).toMatchObject({ jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' } });
  });
});
