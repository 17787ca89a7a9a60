import { spawn, type ChildProcess } from 'node:child_process';

// The viewer's X window, through xdotool and xev: found by its process, given its class, its size followed.

function run(argv: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return resolve({ code: null, stdout: '' });
    }
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      if (out.length < 4096) out += b.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', () => undefined);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: out });
    });
  });
}

/** The X windows of a process (by _NET_WM_PID, never by title), polled until it has one or `timeoutMs` passed. */
export async function windowsOf(pid: number, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string[]> {
  if (!env.DISPLAY) return [];
  // polled here: xdotool's own --sync waits half a second between looks
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await run(['xdotool', 'search', '--pid', String(pid)], env, 2000);
    const ids = found.stdout.split('\n').filter((l) => /^[0-9]+$/.test(l));
    if (ids.length || found.code === null || Date.now() > deadline) return ids;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Set the class and instance of X windows (`tower-HOST`, which sway's per-host rules match; client/sway/rules.ts). */
export async function setWindowClass(ids: string[], className: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  let ok = ids.length > 0;
  for (const id of ids) {
    const r = await run(['xdotool', 'set_window', '--class', className, '--classname', className, id], env, 2000);
    if (r.code !== 0) ok = false;
  }
  return ok;
}

/**
 * Follow an X window's size (xev's ConfigureNotify lines). Calls `onSize` for every new size; returns a stop. Needs
 * xev (x11-utils); without it nothing happens and the viewer's own resize request remains.
 */
export function watchWindowSize(windowId: string, env: NodeJS.ProcessEnv, onSize: (w: number, h: number) => void): () => void {
  let child: ChildProcess;
  try {
    child = spawn('xev', ['-id', windowId, '-event', 'structure'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return () => undefined;
  }
  child.on('error', () => undefined);
  const hex = `0x${Number(windowId).toString(16)}`;
  // the second line of a ConfigureNotify: "    event 0x…, window 0x…, (x,y), width W, height H,"
  const re = new RegExp(`^\\s+event ${hex}, window ${hex}, \\(-?\\d+,-?\\d+\\), width (\\d+), height (\\d+),`);
  let buf = '';
  let last = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    if (buf.length > 65_536) buf = '';
    for (const l of lines) {
      const m = re.exec(l);
      if (!m) continue;
      const size = `${m[1]}x${m[2]}`;
      if (size === last) continue;
      last = size;
      onSize(Number(m[1]), Number(m[2]));
    }
  });
  return () => child.kill('SIGTERM');
}
