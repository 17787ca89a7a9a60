import { mkdirSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TowerClient } from '../../client/rpc.js';
import type { ForwardInfo } from '../../protocol/index.js';
import { labUp, type RunningLab } from '../lab/lab.js';
import { startDaemon, tempHome, towerctl, type RunningDaemon } from '../helpers/towerd.js';

const root = process.getuid?.() === 0;
let lab: RunningLab;
let d: RunningDaemon;
let client: TowerClient;
let echo: Server;
const dir = tempHome('tower-fwd-');
const ECHO_SOCK = join(dir, 'echo.sock');
const HOST_ECHO_PORT = 7007;

/** A line echo server for the host, in Python (every Debian has it), left running in the background. */
const PY_ECHO = `
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', ${HOST_ECHO_PORT})); s.listen(16)
def serve(c):
    while True:
        b = c.recv(65536)
        if not b: break
        c.sendall(b)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

/** From inside the host: connect to 127.0.0.1:port, send `msg`, print the reply. */
const pyClient = (port: number, msg: string) =>
  `import socket; s=socket.create_connection(('127.0.0.1',${port}),timeout=3); s.sendall(b'${msg}'); print(s.recv(100).decode())`;

/** Send `msg` to a Unix socket here and resolve with what comes back. */
function talkUnix(path: string, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.setTimeout(3000, () => {
      s.destroy();
      reject(new Error('timeout'));
    });
    s.once('error', reject);
    s.once('data', (b) => {
      s.destroy();
      resolve(b.toString());
    });
    s.write(msg);
  });
}

describe.skipIf(!root)('forwards over the supervised connection', () => {
  beforeAll(async () => {
    lab = await labUp({ home: tempHome('tower-fwdlab-'), prefix: `twlt${process.pid % 10000}f`, online: 1, offline: 0 });
    const started = await lab.execHost('on1', ['bash', '-c', `nohup /usr/bin/python3 -c "${PY_ECHO.replace(/"/g, '\\"')}" >/dev/null 2>&1 & echo ok`]);
    if (!started.stdout.includes('ok')) throw new Error(`echo server did not start: ${started.stderr}`);
    echo = createServer((c) => c.pipe(c)).listen(ECHO_SOCK);
    // the forwards counted here are this test's own: no sound forwards
    mkdirSync(join(lab.home, '.config', 'tower'), { recursive: true });
    writeFileSync(join(lab.home, '.config', 'tower', 'towerd.json'), JSON.stringify({ desktop: { sound: 'off' } }));
    d = await startDaemon({ home: lab.home, spawnPrefix: lab.tcSpawnPrefix() });
    client = await TowerClient.connect(d.socket, { validate: true });
    for (let i = 0; i < 200 && (await client.call('host.get', { name: 'on1' })).state !== 'online'; i++) await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(async () => {
    client?.close();
    await d?.stop();
    echo?.close();
    await lab?.down();
  });

  it('local: a Unix socket here reaches a port on the host', async () => {
    const f = await client.call('forward.open', { host: 'on1', direction: 'local', listen: { unix: join(dir, 'l1.sock') }, connect: { tcp: { host: '127.0.0.1', port: HOST_ECHO_PORT } } });
    expect(f).toMatchObject({ id: expect.any(String), state: 'active' });
    expect(await talkUnix(join(dir, 'l1.sock'), 'hello host')).toBe('hello host');
  });

  it('local: a loopback TCP port (0 = assigned) here, used from the thin client', async () => {
    const r = await towerctl(d, ['forward', 'open', 'on1', '-L', `0:127.0.0.1:${HOST_ECHO_PORT}`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const f = JSON.parse(r.stdout) as ForwardInfo;
    const port = 'tcp' in f.listen ? f.listen.tcp.port : 0;
    expect(port).toBeGreaterThan(0);
    const out = await lab.execTc(['/usr/bin/python3', '-c', pyClient(port, 'via tcp')]);
    expect(out.stdout.trim()).toBe('via tcp');
  });

  it('remote: a port on the host reaches a Unix socket here', async () => {
    const f = await client.call('forward.open', { host: 'on1', direction: 'remote', listen: { tcp: { host: '127.0.0.1', port: 7100 } }, connect: { unix: ECHO_SOCK } });
    await expect.poll(async () => (await client.call('forward.list', { host: 'on1' })).forwards.find((x) => x.id === f.id)?.state).toBe('active');
    const out = await lab.execHost('on1', ['/usr/bin/python3', '-c', pyClient(7100, 'hello thin client')], { user: 'tower' });
    expect(out.stdout.trim(), out.stderr).toBe('hello thin client');
  });

  it('remote: a host gets at most 64 live channels on one forward; the excess is refused and logged', async () => {
    // a listener here that keeps every connection open and echoes, counting how many are open at once
    let open = 0;
    let peak = 0;
    const held = createServer((c) => {
      peak = Math.max(peak, ++open);
      c.once('close', () => open--);
      c.on('error', () => undefined);
      c.pipe(c);
    }).listen(join(dir, 'held.sock'));
    try {
      const f = await client.call('forward.open', { host: 'on1', direction: 'remote', listen: { tcp: { host: '127.0.0.1', port: 7200 } }, connect: { unix: join(dir, 'held.sock') } });
      await expect.poll(async () => (await client.call('forward.list', { host: 'on1' })).forwards.find((x) => x.id === f.id)?.state).toBe('active');
      // 100 connections at once, all kept open until each has either its echo (a channel) or its end (refused)
      const py = [
        'import socket',
        "socks = [socket.create_connection(('127.0.0.1', 7200), timeout=30) for _ in range(100)]",
        'served = refused = 0',
        'for s in socks:',
        '    try:',
        "        s.sendall(b'x'); b = s.recv(1)",
        '    except OSError:',
        "        b = b''",
        "    served, refused = (served + 1, refused) if b == b'x' else (served, refused + 1)",
        'print(served, refused)',
      ].join('\n');
      const out = await lab.execHost('on1', ['/usr/bin/python3', '-c', py], { user: 'tower' });
      expect(out.stdout.trim(), out.stderr).toBe('64 36');
      expect(peak).toBe(64);
      const { records } = await client.call('logs.tail', { lines: 200, level: 'warn' });
      expect(records.filter((r) => r.msg.includes('too many channels'))).toHaveLength(1);
      // the channels are counted until they close: once the host's connections are gone it may open new ones
      expect((await lab.execHost('on1', ['/usr/bin/python3', '-c', pyClient(7200, 'after the burst')], { user: 'tower' })).stdout.trim()).toBe('after the burst');
      await client.call('forward.close', { id: f.id });
    } finally {
      held.close();
    }
  });

  it('listeners must be on loopback; remote forwards reach only loopback here', async () => {
    await expect(client.call('forward.open', { host: 'on1', direction: 'local', listen: { tcp: { host: '0.0.0.0', port: 0 } }, connect: { tcp: { host: '127.0.0.1', port: 22 } } })).rejects.toMatchObject({ code: -32602 });
    await expect(client.call('forward.open', { host: 'on1', direction: 'remote', listen: { tcp: { host: '127.0.0.1', port: 0 } }, connect: { tcp: { host: '192.168.2.1', port: 22 } } })).rejects.toMatchObject({ code: -32602 });
    const r = await towerctl(d, ['forward', 'open', 'on1', '-L', '0.0.0.0:9999:x:1']);
    expect(r.code).toBe(2);
  });

  it('every forward works again within 2 s of the link coming back', async () => {
    const before = (await client.call('forward.list', {})).forwards;
    await lab.cut('on1');
    await expect.poll(async () => (await client.call('host.get', { name: 'on1' })).state, { timeout: 4000 }).toBe('offline');
    const t0 = Date.now();
    await lab.restore('on1');
    // both directions, measured from the restore
    const local = await talkUnix(join(dir, 'l1.sock'), 'after restore');
    await expect.poll(async () => (await client.call('forward.list', {})).forwards.every((x) => x.state === 'active'), { timeout: 2000, interval: 50 }).toBe(true);
    const remote = await lab.execHost('on1', ['/usr/bin/python3', '-c', pyClient(7100, 'back again')], { user: 'tower' });
    const elapsed = Date.now() - t0;
    console.log(`forwards working again ${elapsed} ms after restore`);
    expect(local).toBe('after restore');
    expect(remote.stdout.trim()).toBe('back again');
    expect(elapsed).toBeLessThanOrEqual(2000);
    expect((await client.call('forward.list', {})).forwards.map((f) => f.id)).toEqual(before.map((f) => f.id));
  });

  it('closing a forward releases its listener', async () => {
    const list = (await client.call('forward.list', {})).forwards;
    const stats0 = await client.call('daemon.stats');
    for (const f of list) await client.call('forward.close', { id: f.id });
    const stats1 = await client.call('daemon.stats');
    expect(stats0.listeners).toBe(list.length);
    expect(stats1).toMatchObject({ listeners: 0, forwards: 0 });
    await expect(talkUnix(join(dir, 'l1.sock'), 'x')).rejects.toThrow();
    const gone = await lab.execHost('on1', ['/usr/bin/python3', '-c', pyClient(7100, 'x')], { user: 'tower' });
    expect(gone.code).not.toBe(0);
  });
});
