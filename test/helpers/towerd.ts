import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const TOWERD = join(ROOT, 'dist/daemon/main.js');
export const TOWERCTL = join(ROOT, 'dist/towerctl.cjs');
/** what users install as /usr/local/bin/towerd: daemon/towerd.sh, which starts TOWERD with towerd's V8 flags */
export const TOWERD_LAUNCHER = join(ROOT, 'dist/towerd');

/** The node options towerd's launcher starts it with, so that tests and benchmarks run it as users do. */
export function towerdNodeFlags(): string[] {
  const m = /^exec node ((?:--[\w=.-]+ )*)"/m.exec(readFileSync(TOWERD_LAUNCHER, 'utf8'));
  if (!m) throw new Error(`${TOWERD_LAUNCHER}: no 'exec node FLAGS "…"' line (run npm run build)`);
  return m[1]!.trim().split(/\s+/).filter(Boolean);
}

export interface RunningDaemon {
  proc: ChildProcess;
  socket: string;
  home: string;
  env: NodeJS.ProcessEnv;
  stderr(): string;
  /** SIGTERM and wait for exit; resolves with the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function tempHome(prefix = 'tower-home-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function daemonEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CONFIG_HOME: join(home, '.config'), ...extra };
}

export function waitForSocket(path: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolvePromise, reject) => {
    const attempt = () => {
      const s = createConnection(path);
      s.once('connect', () => {
        s.destroy();
        resolvePromise();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`towerd did not listen on ${path} within ${timeoutMs} ms`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

/**
 * Start the built towerd with its own home. Unless `spawnPrefix` puts it in a lab's thin-client namespace, it runs
 * with --no-supervise: outside a lab, host addresses must never be dialled (they could be real machines).
 */
export async function startDaemon(
  opts: { home?: string; args?: string[]; env?: NodeJS.ProcessEnv; spawnPrefix?: string[]; /** node arguments that start towerd instead of dist/daemon/main.js */ entry?: string[] } = {},
): Promise<RunningDaemon> {
  const home = opts.home ?? tempHome();
  const env = daemonEnv(home, opts.env);
  const socket = join(env.XDG_RUNTIME_DIR!, 'tower', 'towerd.sock');
  const args = [...towerdNodeFlags(), ...(opts.entry ?? [TOWERD]), ...(opts.spawnPrefix || opts.entry ? [] : ['--no-supervise']), ...(opts.args ?? [])];
  const [cmd, ...rest] = opts.spawnPrefix ? [...opts.spawnPrefix, process.execPath, ...args] : [process.execPath, ...args];
  const proc = spawn(cmd!, rest, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  await Promise.race([
    waitForSocket(socket),
    exited.then((code) => {
      throw new Error(`towerd exited with ${code} before listening:\n${err}`);
    }),
  ]);
  return {
    proc,
    socket,
    home,
    env,
    stderr: () => err,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command to completion, collecting output. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    // a command that exits without reading its stdin closes the pipe: EPIPE then says nothing the exit status does not
    p.stdin.on('error', () => undefined);
    if (opts.input === undefined) p.stdin.end();
    else p.stdin.end(opts.input);
  });
}

/** towerctl started in the background, its output collected as it comes: for tests that act while it runs. */
export function startTowerctl(d: Pick<RunningDaemon, 'env'>, args: string[]): { proc: ChildProcess; out: { stdout: string; stderr: string }; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [TOWERCTL, ...args], { env: { ...d.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  proc.stdout.setEncoding('utf8').on('data', (s: string) => (out.stdout += s));
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (out.stderr += s));
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  return { proc, out, exited };
}

export function towerctl(d: Pick<RunningDaemon, 'env'>, args: string[], opts: { input?: string } = {}): Promise<RunResult> {
  return run(process.execPath, [TOWERCTL, ...args], { env: { ...d.env, NO_COLOR: '1' }, ...opts });
}

/** Send raw bytes on one connection and collect the newline-separated replies until `count` arrive or it closes. */
export function exchange(socket: string, payload: string | Buffer, count: number, timeoutMs = 5000): Promise<{ replies: unknown[]; closed: boolean }> {
  return new Promise((resolvePromise, reject) => {
    const s = createConnection(socket);
    let buf = '';
    const replies: unknown[] = [];
    let closed = false;
    const timer = setTimeout(() => {
      s.destroy();
      resolvePromise({ replies, closed });
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        replies.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
      if (replies.length >= count) {
        clearTimeout(timer);
        s.destroy();
        resolvePromise({ replies, closed });
      }
    });
    s.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolvePromise({ replies, closed });
    });
    s.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code !== 'EPIPE' && (e as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(e);
    });
    s.write(payload);
  });
}

/**
 * `start` for tests that run several daemons: each one started is killed after the current test
 * (call at module level; it registers the afterEach hook).
 */
export function daemonsPerTest(afterEach: (fn: () => Promise<void>) => void): (opts?: Parameters<typeof startDaemon>[0]) => Promise<RunningDaemon> {
  const running: RunningDaemon[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((d) => d.stop('SIGKILL')));
  });
  return async (opts) => {
    const d = await startDaemon(opts);
    running.push(d);
    return d;
  };
}
