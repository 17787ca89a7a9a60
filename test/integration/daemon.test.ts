import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUSYBOX } from '../lab/profile.js';
import { TOWERD, TOWERD_LAUNCHER, daemonEnv, towerdNodeFlags, daemonsPerTest, exchange, run, tempHome, waitForSocket } from '../helpers/towerd.js';

const start = daemonsPerTest(afterEach);

describe('towerd process', () => {
  it('listens on $XDG_RUNTIME_DIR/tower/towerd.sock: folder 0700, socket 0600', async () => {
    const d = await start();
    expect(d.socket).toBe(join(d.home, 'run', 'tower', 'towerd.sock'));
    expect(statSync(join(d.home, 'run', 'tower')).mode & 0o777).toBe(0o700);
    expect(statSync(d.socket).mode & 0o777).toBe(0o600);
    expect(statSync(d.socket).isSocket()).toBe(true);
  });

  it('a second towerd on the same socket refuses to start, and the first keeps serving', async () => {
    const d = await start();
    const second = await run(process.execPath, [TOWERD, '--no-supervise'], { env: d.env, timeoutMs: 10_000 });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/towerd is already running on .*towerd\.sock/);
    const { replies } = await exchange(d.socket, '{"jsonrpc":"2.0","id":1,"method":"daemon.info"}\n', 1);
    expect(replies[0]).toMatchObject({ id: 1, result: { name: 'towerd', pid: d.proc.pid } });
  });

  it('replaces a stale socket file nobody answers on', async () => {
    const home = tempHome();
    const env = daemonEnv(home);
    const sock = join(home, 'run', 'tower', 'towerd.sock');
    mkdirSync(join(home, 'run', 'tower'), { recursive: true, mode: 0o700 });
    // a process that listens and is then killed with SIGKILL leaves its socket file behind
    const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)})`]);
    await waitForSocket(sock);
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    expect(existsSync(sock)).toBe(true);
    const d = await start({ home });
    expect(d.env.HOME).toBe(env.HOME);
    const { replies } = await exchange(sock, '{"jsonrpc":"2.0","id":1,"method":"daemon.info"}\n', 1);
    expect(replies[0]).toMatchObject({ result: { pid: d.proc.pid } });
  });

  it('SIGTERM and SIGINT stop it cleanly and remove the socket', async () => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const d = await start();
      expect(await d.stop(sig)).toBe(0);
      expect(existsSync(d.socket)).toBe(false);
      expect(d.stderr()).toMatch(new RegExp(`"reason":"${sig}".*towerd stopping`));
    }
  });

  it('SIGHUP reloads the settings file', async () => {
    const d = await start();
    const settings = join(d.home, '.config', 'tower', 'towerd.json');
    writeFileSync(settings, JSON.stringify({ log: { level: 'debug' }, typo: true }));
    d.proc.kill('SIGHUP');
    await expect.poll(() => d.stderr(), { timeout: 5000 }).toMatch(/Unrecognized key: .*typo.*settings are invalid/);
    writeFileSync(settings, JSON.stringify({ log: { level: 'warn' } }));
    d.proc.kill('SIGHUP');
    await expect.poll(() => d.stderr().split('SIGHUP: reloading').length, { timeout: 5000 }).toBe(3);
    const { replies } = await exchange(d.socket, '{"jsonrpc":"2.0","id":1,"method":"daemon.info"}\n', 1);
    expect(replies[0]).toMatchObject({ id: 1, result: { name: 'towerd' } });
  });

  it('refuses a socket folder owned by someone else', async () => {
    const home = tempHome();
    mkdirSync(join(home, 'run', 'tower'), { recursive: true, mode: 0o700 });
    chownSync(join(home, 'run', 'tower'), 4242, 4242);
    const r = await run(process.execPath, [TOWERD, '--no-supervise'], { env: daemonEnv(home), timeoutMs: 10_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/belongs to uid 4242, not to us/);
  });

  it('the installed launcher runs under busybox (as on an Alpine thin client), through a symlink, with its V8 flags', async () => {
    const home = tempHome();
    // PATH: busybox's sh, readlink and dirname first, then node; the link stands for /usr/local/bin/towerd
    const bin = join(home, 'bin');
    mkdirSync(bin);
    for (const tool of ['sh', 'readlink', 'dirname']) symlinkSync(BUSYBOX, join(bin, tool));
    symlinkSync(TOWERD_LAUNCHER, join(bin, 'towerd'));
    const env = daemonEnv(home, { PATH: `${bin}:${dirname(process.execPath)}` });
    const proc = spawn(join(bin, 'sh'), [join(bin, 'towerd'), '--no-supervise'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    try {
      await waitForSocket(join(home, 'run', 'tower', 'towerd.sock'));
      // the launcher execs node: same process, node's own command line
      const argv = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      expect(towerdNodeFlags()).toContain('--initial-heap-size=64');
      expect(argv.slice(1)).toEqual([...towerdNodeFlags(), TOWERD, '--no-supervise']);
      const { replies } = await exchange(join(home, 'run', 'tower', 'towerd.sock'), '{"jsonrpc":"2.0","id":1,"method":"daemon.info"}\n', 1);
      expect(replies[0]).toMatchObject({ id: 1, result: { name: 'towerd' } });
    } finally {
      proc.kill('SIGTERM');
    }
    expect(err).not.toMatch(/bad option|not found|invalid option/);
  });

  it('rejects bad command lines with exit 2 and documents itself', async () => {
    const bad = await run(process.execPath, [TOWERD, '--log-level', 'loud'], { env: daemonEnv(tempHome()) });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--log-level must be one of trace, debug/);
    const unknown = await run(process.execPath, [TOWERD, '--frobnicate'], { env: daemonEnv(tempHome()) });
    expect(unknown.code).toBe(2);
    const help = await run(process.execPath, [TOWERD, '--help'], { env: daemonEnv(tempHome()) });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: towerd \[--socket PATH\] \[--log-level LEVEL\]/);
    expect(help.stdout).toMatch(/SIGHUP reloads/);
  });
});
