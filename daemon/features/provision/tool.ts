import { spawn } from 'node:child_process';

/** The environment for helper programs (xz, mtools, dd): a fixed PATH and locale, nothing inherited that could change their output. */
export function toolEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', ...extra };
}

export interface ToolResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** A helper program's name for messages, and the package that has it on Debian and Alpine. */
const PACKAGES: Record<string, string> = { xz: 'xz-utils (Debian) / xz (Alpine)', mcopy: 'mtools', mdir: 'mtools', mtype: 'mtools', dd: 'coreutils' };

export class ToolError extends Error {}

/**
 * Run a helper to completion with a deadline. Arguments are file paths and fixed options only: no secret ever goes on
 * a command line (argv is visible to every user in /proc).
 */
export function runTool(argv: string[], opts: { input?: Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv; maxStdout?: number } = {}): Promise<ToolResult> {
  const [cmd, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, args, { env: opts.env ?? toolEnv(), stdio: [opts.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    const max = opts.maxStdout ?? 16 * 1024 * 1024;
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outBytes > max) child.kill('SIGKILL');
      else out.push(d);
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ToolError(err.code === 'ENOENT' ? `${cmd} is not installed (package ${PACKAGES[cmd!] ?? cmd})` : `cannot run ${cmd}: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    });
    if (opts.input && child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

/** Like runTool, but a non-zero exit is an error naming the tool and its last stderr line. */
export async function runToolOk(argv: string[], what: string, opts: Parameters<typeof runTool>[1] = {}): Promise<Buffer> {
  const r = await runTool(argv, opts);
  if (r.code !== 0) {
    const last = r.stderr.trim().split('\n').slice(-2).join('; ');
    throw new ToolError(`${what}: ${argv[0]} exited with ${r.code ?? 'a signal'}${last ? ` (${last})` : ''}`);
  }
  return r.stdout;
}
