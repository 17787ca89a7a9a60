// TowerLink against a small fake towerd on a Unix socket: the order of snapshot and events, and reconnecting.
import { mkdtempSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKOFF_MAX_MS, TowerLink, nextDelay } from '../../client/bar/link.js';
import type { BarView } from '../../client/bar/model.js';
import type { Event, HostInfo } from '../../protocol/index.js';

function info(name: string): HostInfo {
  return {
    name,
    role: 'offline',
    ip: '192.168.3.200',
    network: '192.168.3.0/24',
    user: 'alice',
    identityFile: '/x',
    color: { code: 31, name: 'Red', hex: '#cd0000' },
    state: 'unsupervised',
    lastError: null,
    lastContact: null,
    rttMs: null,
    version: null,
  };
}

function status(hosts: HostInfo[]) {
  return {
    daemon: { version: '0.1.0', pid: 1, uptimeMs: 1 },
    registry: { ok: true, error: null, loadedAt: null, hostCount: hosts.length },
    hosts,
    summary: { total: hosts.length, online: 0, down: 0 },
  };
}

type Handler = (params: unknown, send: (msg: object) => void) => unknown;

/** Answers JSON-RPC requests with the handlers given; `send` pushes anything (events) on that connection first. */
function fakeTowerd(path: string, handlers: Record<string, Handler>): Promise<{ server: Server; conns: Socket[]; calls: string[] }> {
  const conns: Socket[] = [];
  const calls: string[] = [];
  const server = createServer((sock) => {
    conns.push(sock);
    let buf = '';
    sock.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const req = JSON.parse(buf.slice(0, nl)) as { id: number; method: string; params: unknown };
        buf = buf.slice(nl + 1);
        calls.push(req.method);
        const send = (msg: object) => sock.write(JSON.stringify(msg) + '\n');
        const h = handlers[req.method];
        if (!h) send({ jsonrpc: '2.0', id: req.id, error: { code: -32601, message: 'Method not found' } });
        else send({ jsonrpc: '2.0', id: req.id, result: h(req.params, send) });
      }
    });
    sock.on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen(path, () => resolve({ server, conns, calls })));
}

const event = (e: Event) => ({ jsonrpc: '2.0', method: 'event', params: e });
const shown = (v: BarView | undefined) => (v === undefined ? 'nothing' : v.daemon === 'down' ? 'down' : v.hosts.map((h) => h.name).join(','));

const cleanup: (() => void)[] = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

function start(path: string) {
  const views: BarView[] = [];
  const link = new TowerLink(path, (v) => views.push(v));
  link.start();
  cleanup.push(() => link.stop());
  return { link, views, last: () => shown(views.at(-1)) };
}

describe('TowerLink', () => {
  it('backs off from 0.5 s, doubling, to at most 5 s', () => {
    const seq: number[] = [];
    let d: number | undefined;
    for (let i = 0; i < 7; i++) seq.push((d = nextDelay(d)));
    expect(seq).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000]);
    expect(BACKOFF_MAX_MS).toBe(5000);
  });

  it('subscribes before taking the snapshot, and replays events that raced it', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'bar-link-')), 's');
    const fake = await fakeTowerd(path, {
      'events.subscribe': (p) => p,
      // the host is added while the snapshot is being made: the event goes out before the (older) reply
      status: (_p, send) => {
        send(event({ type: 'host.added', topic: 'hosts', host: info('late') }));
        return status([info('work')]);
      },
    });
    cleanup.push(() => fake.server.close());
    const { views, last } = start(path);
    await expect.poll(() => views.length).toBe(1);
    expect(fake.calls).toEqual(['events.subscribe', 'status']);
    expect(last()).toBe('late,work');
    // later events apply directly
    fake.conns[0]!.write(JSON.stringify(event({ type: 'host.removed', topic: 'hosts', name: 'work' })) + '\n');
    await expect.poll(last).toBe('late');
  });

  it('shows down at once when towerd is away, and comes back when it listens again', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'bar-link-')), 's');
    const { views, last, link } = start(path);
    await expect.poll(last).toBe('down');
    expect(link.knows('work')).toBe(false);
    await expect(link.reconnect('work')).rejects.toThrow('towerd is not running');
    const fake = await fakeTowerd(path, { 'events.subscribe': (p) => p, status: () => status([info('work')]) });
    cleanup.push(() => fake.server.close());
    await expect.poll(last, { timeout: 4000 }).toBe('work');
    expect(link.knows('work')).toBe(true);
    // the connection drops: down again, then a new connection and snapshot
    const before = views.length;
    fake.conns[0]!.destroy();
    await expect.poll(() => views.slice(before).map(shown)).toEqual(['down', 'work']);
  });

  it('passes host.reconnect through and its errors back to the caller', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'bar-link-')), 's');
    const fake = await fakeTowerd(path, { 'events.subscribe': (p) => p, status: () => status([info('work')]) });
    cleanup.push(() => fake.server.close());
    const { link, last } = start(path);
    await expect.poll(last).toBe('work');
    await expect(link.reconnect('work')).rejects.toThrow('Method not found');
    expect(fake.calls.at(-1)).toBe('host.reconnect');
  });
});
