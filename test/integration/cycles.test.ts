import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Event } from '../../protocol/index.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { tempHome } from '../helpers/towerd.js';

const root = process.getuid?.() === 0;
const CYCLES = Number(process.env.TOWER_CYCLES ?? 1000);
let t: LabDaemon;
let echo: Server;
const dir = tempHome('tower-cycles-');

describe.skipIf(!root)('reconnect cycles', () => {
  beforeAll(async () => {
    // the forwards counted here are this test's own: no sound forwards
    t = await labDaemon('c', {}, { desktop: { sound: 'off' } });
    echo = createServer((c) => c.pipe(c)).listen(join(dir, 'echo.sock'));
  });
  afterAll(async () => {
    echo?.close();
    await t?.close();
  });

  it(`${CYCLES} forced disconnect/reconnect cycles leave fds, listeners and channels where they started`, async () => {
    const { client, lab } = t;
    // a local and a remote forward ride on the connection through every cycle
    await client.call('forward.open', { host: 'on1', direction: 'local', listen: { unix: join(dir, 'l.sock') }, connect: { tcp: { host: '192.168.2.200', port: 22 } } });
    await client.call('forward.open', { host: 'on1', direction: 'remote', listen: { tcp: { host: '127.0.0.1', port: 7300 } }, connect: { unix: join(dir, 'echo.sock') } });
    await expect.poll(async () => (await client.call('forward.list', {})).forwards.every((f) => f.state === 'active')).toBe(true);
    const before = await client.call('daemon.stats');

    let online = 0;
    let waiter: (() => void) | undefined;
    await client.subscribe(['hosts'], (e: Event) => {
      if (e.type === 'host.state' && e.host.name === 'on1' && e.host.state === 'online') {
        online++;
        waiter?.();
      }
    });
    const t0 = Date.now();
    for (let i = 0; i < CYCLES; i++) {
      const seen = online;
      const back = new Promise<void>((r) => (waiter = r));
      if (i % 10 === 9) {
        // every tenth drop comes from the host's side: its sshd session process is killed (sshd may still be
        // forking it right after authentication, so try until there is one)
        const k = await lab.execHost('on1', ['bash', '-c', 'for i in $(seq 100); do pkill -KILL -u tower -x sshd && exit 0; sleep 0.02; done; exit 1']);
        expect(k.code, 'no sshd session process to kill').toBe(0);
      } else {
        await client.call('host.reconnect', { name: 'on1' });
      }
      const late = new Promise<'late'>((r) => setTimeout(() => r('late'), 5000));
      if ((await Promise.race([back, late])) === 'late') {
        const { records } = await client.call('logs.tail', { lines: 20, level: 'debug' });
        throw new Error(`cycle ${i}: on1 did not come back within 5 s; state ${JSON.stringify(await client.call('host.get', { name: 'on1' }))}\n${records.map((r) => `${r.msg} ${JSON.stringify(r.fields)}`).join('\n')}`);
      }
      expect(online).toBeGreaterThan(seen);
    }
    const elapsed = Date.now() - t0;
    // let the last forward re-bind and closing sockets finish
    await expect.poll(async () => (await client.call('forward.list', {})).forwards.every((f) => f.state === 'active'), { timeout: 5000 }).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    const after = await client.call('daemon.stats');
    console.log(`${CYCLES} cycles in ${elapsed} ms (${(elapsed / CYCLES).toFixed(1)} ms each); fds ${before.openFds} → ${after.openFds}, RSS ${Math.round(before.rssBytes / 2 ** 20)} → ${Math.round(after.rssBytes / 2 ** 20)} MiB`);
    expect(after).toMatchObject({
      openFds: before.openFds,
      listeners: before.listeners,
      channels: before.channels,
      sshSockets: before.sshSockets,
      sshConnected: before.sshConnected,
      forwards: 2,
    });
    expect(before.listeners).toBe(2);
    // and both forwards still carry data
    const out = await lab.execHost('on1', ['/usr/bin/python3', '-c', "import socket; s=socket.create_connection(('127.0.0.1',7300),timeout=3); s.sendall(b'still here'); print(s.recv(64).decode())"], { user: 'tower' });
    expect(out.stdout.trim()).toBe('still here');
  });
});
