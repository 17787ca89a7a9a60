import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import pty from 'node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { TOWERCTL, run, towerctl } from '../helpers/towerd.js';

const root = process.getuid?.() === 0;
let t: LabDaemon;

/** Run towerctl in a real terminal (node-pty) and collect what the terminal shows. */
function inTerminal(args: string[], opts: { cols?: number; rows?: number } = {}) {
  const term = pty.spawn(process.execPath, [TOWERCTL, ...args], { cols: opts.cols ?? 80, rows: opts.rows ?? 24, env: { ...t.d.env, TERM: 'xterm', NO_COLOR: '1' } });
  let out = '';
  term.onData((d) => (out += d));
  const exited = new Promise<number>((r) => term.onExit((e) => r(e.exitCode)));
  return { term, out: () => out, exited };
}

describe.skipIf(!root)('remote exec through towerd', () => {
  beforeAll(async () => {
    t = await labDaemon('x', {}, { poweroffCommand: ['sh', '-c', 'echo "poweroff requested by $(id -un)" > /tmp/poweroff-marker'] });
  });
  afterAll(() => t?.close());

  it('runs exactly the argv given: spaces, quotes, $, ;, backslashes, newlines, empty', async () => {
    const args = ['two words', "it's", '"double"', '$HOME', '$(id)', '`id`', 'a;b', 'x\ny', '', '*', '\\', 'ünï'];
    const r = await towerctl(t.d, ['exec', 'on1', '--', 'printf', '%s\\0', ...args]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(args);
  });

  it('returns the remote exit status and keeps stderr apart', async () => {
    const r = await towerctl(t.d, ['exec', 'on1', '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    expect(r).toMatchObject({ code: 7, stdout: 'out\n', stderr: 'err\n' });
    const killed = await towerctl(t.d, ['exec', 'on1', '--', 'sh', '-c', 'kill -TERM $$']);
    expect(killed.code).toBe(128 + 15);
  });

  it('streams stdin both ways: 8 MiB through sha256sum', async () => {
    const data = randomBytes(8 * 1024 * 1024);
    const r = await run(process.execPath, [TOWERCTL, 'exec', 'on1', '--', 'sha256sum'], { env: t.d.env, input: data });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('a command that exits without reading its stdin ends towerctl with its status, however much stdin is left', async () => {
    // towerctl is still sending when the command is gone: neither side may wait for the other to read
    const r = await run(process.execPath, [TOWERCTL, 'exec', 'on1', '--', 'sh', '-c', 'exit 3'], { env: t.d.env, input: randomBytes(32 * 1024 * 1024), timeoutMs: 15_000 });
    expect(r.code, r.stderr).toBe(3);
  });

  it('without a terminal, Ctrl-C (SIGINT) is delivered to the remote command', async () => {
    const p = spawn(process.execPath, [TOWERCTL, 'exec', 'on1', '--', 'sh', '-c', 'trap "echo got INT; exit 42" INT; echo ready; while :; do sleep 0.1; done'], { env: t.d.env });
    let out = '';
    let sent = false;
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // once: a second Ctrl-C that lands while towerctl is already exiting would kill it by the signal
      if (!sent && out.includes('ready')) {
        sent = true;
        p.kill('SIGINT');
      }
    });
    const code = await new Promise((r) => p.once('exit', r));
    expect(out).toContain('got INT');
    expect(code).toBe(42);
  });

  it('with a terminal: a PTY of the right size, Ctrl-C and window changes reach the host', async () => {
    const s = inTerminal(['exec', 'on1', '--', 'sh', '-c', 'tty; stty size; trap "stty size; exit 9" INT; echo waiting; while :; do sleep 0.1; done'], { cols: 91, rows: 33 });
    await expect.poll(s.out, { timeout: 5000 }).toMatch(/waiting/);
    expect(s.out()).toMatch(/\/dev\/pts\/\d+/);
    expect(s.out()).toMatch(/33 91/);
    s.term.resize(120, 40);
    await new Promise((r) => setTimeout(r, 300));
    s.term.write('\x03');
    expect(await s.exited).toBe(9);
    expect(s.out()).toMatch(/40 120/);
  });

  it('towerctl ssh opens an interactive login shell', async () => {
    const s = inTerminal(['ssh', 'on1']);
    s.term.write('echo "shell on $(hostname): $((6*7))"; exit 3\r');
    expect(await s.exited).toBe(3);
    expect(s.out()).toMatch(/shell on on1: 42/);
  });

  it('more commands at once than OpenSSH allows sessions are queued, not failed', async () => {
    const results = await Promise.all(Array.from({ length: 14 }, (_, i) => towerctl(t.d, ['exec', 'on1', '--', 'sh', '-c', `sleep 0.5; echo ${i}`])));
    expect(results.map((r) => r.code)).toEqual(Array(14).fill(0));
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 14 }, (_, i) => String(i)));
  });

  it('a host that is not connected is exit 4 with the reason; poweroff runs the configured command', async () => {
    await t.lab.cut('on1');
    await expect.poll(async () => (await t.client.call('host.get', { name: 'on1' })).state, { timeout: 4000 }).toBe('offline');
    const r = await towerctl(t.d, ['exec', 'on1', '--', 'true']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/on1 is not connected \(offline: no keepalive reply/);
    const p = await towerctl(t.d, ['poweroff', 'on1', 'router', '--yes']);
    expect(p.code).toBe(4);
    expect(p.stdout).toMatch(/^router: powering off$/m);
    expect(p.stdout).toMatch(/^on1: FAILED: on1 is not connected/m);
    const marker = await t.lab.execHost('router', ['cat', '/tmp/poweroff-marker']);
    expect(marker.stdout).toBe('poweroff requested by tower\n');
    await t.lab.restore('on1');
    await expect.poll(async () => (await t.client.call('host.get', { name: 'on1' })).state, { timeout: 4000 }).toBe('online');
  });
});
