// Child-process helpers: every command has a deadline and is killed when it passes, and bulk
// work runs with bounded concurrency so a 50-host lab does not fork hundreds of processes at once.
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { ExecResult } from './types.js';

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
  cwd?: string;
}

export const DEFAULT_TIMEOUT_MS = 20_000;

/** A command that failed (non-zero exit, signal or timeout), carrying what a reader needs to act. */
export class LabCommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: ExecResult,
    context?: string,
  ) {
    const what = context ? `${context}: ` : '';
    const stderr = result.stderr.trim().split('\n').slice(-8).join('\n');
    super(`${what}\`${argv.join(' ')}\` exited with ${result.code}${stderr ? `\n${stderr}` : ''}`);
    this.name = 'LabCommandError';
  }
}

function signalCode(signal: NodeJS.Signals | null): number {
  if (!signal) return 1;
  const n = (osConstants.signals as Record<string, number | undefined>)[signal];
  return 128 + (n ?? 0);
}

/** Runs argv to completion and resolves with its exit code and output; rejects only if it cannot be spawned. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (!cmd) return Promise.reject(new Error('run: empty argv'));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run \`${argv.join(' ')}\`: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        resolve({ code: 124, stdout, stderr: `${stderr}[lab] \`${cmd}\` killed after ${timeoutMs} ms\n` });
      } else {
        resolve({ code: code ?? signalCode(signal), stdout, stderr });
      }
    });
    if (opts.input !== undefined && child.stdin) {
      // A child that exits without reading its input makes the pipe fail with EPIPE; the exit code tells the story.
      child.stdin.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE') stderr += `[lab] stdin: ${err.message}\n`;
      });
      child.stdin.end(opts.input);
    }
  });
}

/** Like run(), but a non-zero exit is an error. */
export async function runOk(argv: readonly string[], opts: RunOptions & { context?: string } = {}): Promise<ExecResult> {
  const result = await run(argv, opts);
  if (result.code !== 0) throw new LabCommandError(argv, result, opts.context);
  return result;
}

/**
 * Maps items through fn with at most `limit` in flight. On failure no new items start, the ones in flight
 * finish (so nothing is left half-spawned), then the first error is thrown.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let firstError: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!firstError && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (err) {
        firstError ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError) throw firstError.err;
  return results;
}

/** Polls check() every intervalMs until it returns a value, or throws after timeoutMs. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  opts: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 20));
  }
}

/** Bulk work concurrency: enough to overlap process start-up, bounded for small CI machines. */
export const CONCURRENCY = 8;

/** A minimal, predictable environment for commands run inside the lab (no inherited proxies, locales, etc.). */
export function baseEnv(home: string, extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    ...extra,
  };
}

/** Runs cleanup after a failure and rethrows the failure; if cleanup fails too, both errors are kept. */
export async function cleanUpAfter(err: unknown, what: string, cleanup: () => Promise<void>): Promise<never> {
  try {
    await cleanup();
  } catch (cleanupErr) {
    throw new AggregateError([err, cleanupErr], `${what} failed, and so did cleaning up after it`, { cause: cleanupErr });
  }
  throw err;
}
