import { mkdtempSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogRing, createLogger } from '../../daemon/core/log.js';
import { RpcServer, certainlyLonger, type Connection } from '../../daemon/core/rpc/server.js';
import { ErrorCode, MAX_JSON_DEPTH } from '../../protocol/index.js';
import { exchange } from '../helpers/towerd.js';

const FRAME = 4096;
let calls = 0;
const methods = {
  echo: (p: unknown) => {
    calls++;
    return Promise.resolve(p);
  },
  big: (p: unknown) => Promise.resolve('x'.repeat((p as { n: number }).n)),
  bigint: () => Promise.resolve(10n as unknown),
  shout: (p: unknown, conn: Connection) => {
    conn.notify('event', { text: 'y'.repeat((p as { n: number }).n) });
    return Promise.resolve('done');
  },
};

let server: RpcServer;
let socket: string;

beforeAll(async () => {
  socket = join(mkdtempSync(join(tmpdir(), 'rpc-limits-')), 's.sock');
  server = new RpcServer(pino({ level: 'silent' }), methods, { maxFrameBytes: FRAME, maxBatchLength: 4 });
  await server.listen(socket);
});
afterAll(() => server.close());

const call = (id: number, method: string, params: unknown = {}) => ({ jsonrpc: '2.0', id, method, params });
const line = (v: unknown) => JSON.stringify(v) + '\n';

describe('batch length', () => {
  it('a batch over the cap is refused whole and none of it runs; the connection stays usable', async () => {
    calls = 0;
    const batch = Array.from({ length: 5 }, (_, i) => call(i, 'echo', [i]));
    const { replies, closed } = await exchange(socket, line(batch) + line(call(9, 'echo', [9])), 2);
    expect(replies[0]).toEqual({ jsonrpc: '2.0', id: null, error: { code: ErrorCode.InvalidRequest, message: 'Invalid Request', data: { reason: 'batch of 5 requests; at most 4' } } });
    expect(replies[1]).toEqual({ jsonrpc: '2.0', id: 9, result: [9] });
    expect(calls).toBe(1);
    expect(closed).toBe(false);
  });

  it('a batch at the cap runs every element', async () => {
    const { replies } = await exchange(socket, line(Array.from({ length: 4 }, (_, i) => call(i, 'echo', [i]))), 1);
    expect((replies[0] as unknown[]).length).toBe(4);
  });
});

describe('nesting', () => {
  it('a frame nested deeper than MAX_JSON_DEPTH is refused before it is parsed; one at the limit runs', async () => {
    const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const { replies } = await exchange(socket, `{"jsonrpc":"2.0","id":1,"method":"echo","params":${nest(MAX_JSON_DEPTH)}}\n{"jsonrpc":"2.0","id":2,"method":"echo","params":${nest(MAX_JSON_DEPTH - 1)}}\n`, 2);
    expect(replies).toContainEqual({ jsonrpc: '2.0', id: null, error: { code: ErrorCode.InvalidRequest, message: 'Invalid Request', data: { reason: `nested deeper than ${MAX_JSON_DEPTH} levels` } } });
    expect(replies).toContainEqual(expect.objectContaining({ id: 2, result: expect.any(Array) }));
  });
});

describe('reply size', () => {
  it('a reply over the frame limit becomes -32099 for its id; the next request is answered', async () => {
    const { replies } = await exchange(socket, line(call(1, 'big', { n: FRAME })) + line(call(2, 'big', { n: 10 })), 2);
    expect(replies[0]).toEqual({ jsonrpc: '2.0', id: 1, error: { code: ErrorCode.ReplyTooLarge, message: `Reply exceeds ${FRAME} bytes` } });
    expect(replies[1]).toEqual({ jsonrpc: '2.0', id: 2, result: 'x'.repeat(10) });
  });

  it('a batch reply is one frame at most: what does not fit is an error to its id, every element is answered', async () => {
    const s = createConnection(socket);
    const raw = await new Promise<string>((res) => {
      let buf = '';
      s.setEncoding('utf8').on('data', (c: string) => {
        buf += c;
        if (buf.includes('\n')) res(buf.slice(0, buf.indexOf('\n')));
      });
      s.write(line(Array.from({ length: 4 }, (_, i) => call(i, 'big', { n: 1500 }))));
    });
    s.destroy();
    expect(Buffer.byteLength(raw)).toBeLessThanOrEqual(FRAME);
    const replies = JSON.parse(raw) as { id: number; result?: string; error?: { code: number } }[];
    expect(replies.map((r) => r.id).sort()).toEqual([0, 1, 2, 3]);
    expect(replies.filter((r) => r.result !== undefined)).toHaveLength(2);
    expect(replies.filter((r) => r.error?.code === ErrorCode.ReplyTooLarge)).toHaveLength(2);
  });

  it('a value JSON cannot express is an internal error, not a crash', async () => {
    const { replies } = await exchange(socket, line(call(3, 'bigint')) + line(call(4, 'echo', [4])), 2);
    expect(replies[0]).toEqual({ jsonrpc: '2.0', id: 3, error: { code: ErrorCode.InternalError, message: 'Internal error' } });
    expect(replies[1]).toEqual({ jsonrpc: '2.0', id: 4, result: [4] });
  });

  it('ids too long for even an error reply: one error without an id, nothing runs', async () => {
    calls = 0;
    const batch = Array.from({ length: 4 }, () => ({ ...call(0, 'echo', []), id: 'i'.repeat(960) }));
    expect(Buffer.byteLength(line(batch))).toBeLessThan(FRAME);
    const { replies } = await exchange(socket, line(batch), 1);
    expect(replies[0]).toMatchObject({ id: null, error: { code: ErrorCode.ReplyTooLarge } });
    expect(calls).toBe(0);
  });

  it('a notification over the frame limit is not sent; the reply still is', async () => {
    const { replies } = await exchange(socket, line(call(5, 'shout', { n: FRAME })) + line(call(6, 'shout', { n: 10 })), 3);
    // both frames run at once, so the order of what comes back is not fixed
    expect(replies).toHaveLength(3);
    expect(replies).toEqual(expect.arrayContaining([{ jsonrpc: '2.0', id: 5, result: 'done' }, { jsonrpc: '2.0', method: 'event', params: { text: 'y'.repeat(10) } }, { jsonrpc: '2.0', id: 6, result: 'done' }]));
  });

  it('certainlyLonger never claims a value is longer than its JSON', () => {
    const values: unknown[] = [null, 1.5, 'héllo', [1, [2, 'three']], { a: { b: ['c', null, true] } }, '😀'.repeat(50), {}];
    for (const v of values) {
      const bytes = Buffer.byteLength(JSON.stringify(v));
      expect(certainlyLonger(v, bytes)).toBe(false);
    }
    expect(certainlyLonger({ records: ['z'.repeat(100)] }, 50)).toBe(true);
  });
});

describe('log ring', () => {
  it('subscribers hear of records on a later turn, so a subscriber that logs cannot recurse', async () => {
    const ring = new LogRing(10);
    const log = createLogger('info', ring, { write: () => true } as unknown as NodeJS.WritableStream);
    const heard: string[] = [];
    ring.onRecord((r) => {
      heard.push(r.msg);
      // what a send that drops its client does: log from inside the delivery
      if (r.msg === 'first') log.warn('from the listener');
    });
    log.info('first');
    expect(heard).toEqual([]);
    expect(ring.tail(10, 'info').map((r) => r.msg)).toEqual(['first']);
    await new Promise((r) => setImmediate(r));
    expect(heard).toEqual(['first']);
    await new Promise((r) => setImmediate(r));
    expect(heard).toEqual(['first', 'from the listener']);
  });

  it('tail returns the newest records that fit the byte budget', () => {
    const ring = new LogRing(10);
    const log = createLogger('info', ring, { write: () => true } as unknown as NodeJS.WritableStream);
    for (let i = 0; i < 5; i++) log.info({ pad: 'p'.repeat(100) }, `r${i}`);
    expect(ring.tail(10, 'info').length).toBe(5);
    expect(ring.tail(10, 'info', 400).map((r) => r.msg)).toEqual(['r3', 'r4']);
  });
});

describe('oversized frames', () => {
  it('reading stops at the first byte over the limit: one reply, one log line, the rest is never read', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
    const path = join(mkdtempSync(join(tmpdir(), 'rpc-frames-')), 's.sock');
    const srv = new RpcServer(log, methods, { maxFrameBytes: FRAME });
    await srv.listen(path);
    try {
      // 8 MiB with no newline, far more than one read: nothing past the limit may cost more than a look
      const { replies, closed } = await exchange(path, Buffer.alloc(8 * 1024 * 1024, 0x41), 2, 5000);
      expect(replies).toEqual([{ jsonrpc: '2.0', id: null, error: { code: ErrorCode.FrameTooLarge, message: `Frame exceeds ${FRAME} bytes` } }]);
      expect(closed).toBe(true);
      expect(lines.filter((l) => l.includes('frame too large'))).toHaveLength(1);
    } finally {
      await srv.close();
    }
  });
});
