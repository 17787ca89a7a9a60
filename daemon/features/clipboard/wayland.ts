// The thin client's Wayland clipboard through real wl-copy and wl-paste (wl-clipboard, data-control protocol).
import { spawn, type ChildProcess } from 'node:child_process';
import type { WaylandEnv } from '../../../protocol/index.js';

export type WaylandSession = WaylandEnv;

export const TEXT_TYPE = 'text/plain;charset=utf-8';

/** The session in an environment (towerd's own, imported by sway into the user service manager), if any. */
export function waylandFromEnv(env: NodeJS.ProcessEnv): WaylandSession | undefined {
  const display = env.WAYLAND_DISPLAY;
  if (!display) return undefined;
  const runtimeDir = env.XDG_RUNTIME_DIR ?? (display.startsWith('/') ? '/' : undefined);
  if (!runtimeDir?.startsWith('/')) return undefined;
  return { display, runtimeDir };
}

function childEnv(w: WaylandSession): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', XDG_RUNTIME_DIR: w.runtimeDir, WAYLAND_DISPLAY: w.display, LANG: 'C.UTF-8' };
}

/**
 * wl-copy keeps what it serves in a file under /tmp (hard-coded) for as long as it owns the selection. So it runs
 * in a mount namespace of its own with a tmpfs on /tmp: the text stays in memory and disappears with the process.
 * The Wayland socket, possibly under /tmp too, is reached through a descriptor opened before the mount. As root a
 * mount namespace is enough; otherwise a user namespace maps us to root in it (util-linux unshare).
 * The shell waits for wl-copy's first process (it forks the one that serves) and passes its errors on; the server
 * inherits only /dev/null and the namespace's tmpfs, so nothing of ours stays open.
 */
const WL_COPY_SCRIPT = [
  'exec 9<"$XDG_RUNTIME_DIR" || exit 70',
  'mount -t tmpfs -o mode=0700,size=$2 tower-clipboard /tmp || exit 71',
  'case "$WAYLAND_DISPLAY" in /*) ;; *) WAYLAND_DISPLAY=/proc/self/fd/9/$WAYLAND_DISPLAY ;; esac',
  'export WAYLAND_DISPLAY',
  'wl-copy --type "$1" >/dev/null 2>/tmp/err',
  'rc=$?',
  'cat /tmp/err >&2',
  'exit $rc',
].join('\n');

function unshareArgv(): string[] {
  return process.getuid?.() === 0 ? ['unshare', '--mount', '--propagation', 'private', '--'] : ['unshare', '--map-root-user', '--mount', '--propagation', 'private', '--'];
}

export class WaylandError extends Error {}

function collect(p: ChildProcess, max = 2000): () => string {
  let err = '';
  p.stderr?.setEncoding('utf8').on('data', (d: string) => {
    if (err.length < max) err += d;
  });
  return () => err.trim().slice(0, max);
}

/** Put UTF-8 text into the thin client's clipboard; resolves once wl-copy has taken the selection. */
export function wlCopy(w: WaylandSession, text: Buffer, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const tmpfsBytes = Math.max(1024 * 1024, text.length * 2 + 65536);
    const p = spawn(unshareArgv()[0]!, [...unshareArgv().slice(1), 'sh', '-c', WL_COPY_SCRIPT, 'sh', TEXT_TYPE, String(tmpfsBytes)], {
      env: childEnv(w),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    const stderr = collect(p);
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', (err) => {
      clearTimeout(timer);
      reject(new WaylandError(`cannot run wl-copy: ${err.message}`));
    });
    p.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const why = code === 70 ? `cannot open XDG_RUNTIME_DIR ${w.runtimeDir}` : code === 71 ? 'cannot give wl-copy a private /tmp (unshare/mount)' : stderr() || (signal ? `killed by ${signal}` : `exit ${code}`);
      reject(new WaylandError(`wl-copy failed on ${w.display}: ${why}`));
    });
    p.stdin.on('error', () => undefined);
    p.stdin.end(text);
  });
}

export type PasteResult = { ok: true; data: Buffer } | { ok: false; empty: true } | { ok: false; empty: false; size: number };

/** Read the thin client's clipboard as text, keeping at most `maxBytes` (a larger content is counted, not kept). */
export function wlPaste(w: WaylandSession, maxBytes: number, timeoutMs = 5000): Promise<PasteResult> {
  return new Promise((resolve, reject) => {
    const p = spawn('wl-paste', ['--no-newline', '--type', 'text'], { env: childEnv(w), stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr = collect(p);
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.on('data', (b: Buffer) => {
      if (size <= maxBytes) chunks.push(b);
      size += b.length;
    });
    p.once('error', (err) => {
      clearTimeout(timer);
      reject(new WaylandError(`cannot run wl-paste: ${err.message}`));
    });
    p.once('close', (code, signal) => {
      clearTimeout(timer);
      const err = stderr();
      if (code !== 0) {
        if (/no selection|nothing is copied|no suitable type/i.test(err)) return resolve({ ok: false, empty: true });
        return reject(new WaylandError(`wl-paste failed on ${w.display}: ${err || (signal ? `killed by ${signal}` : `exit ${code}`)}`));
      }
      if (size > maxBytes) return resolve({ ok: false, empty: false, size });
      if (size === 0) return resolve({ ok: false, empty: true });
      resolve({ ok: true, data: Buffer.concat(chunks) });
    });
  });
}

/**
 * Follow changes of the thin client's clipboard (`wl-paste --watch`): `onChange` after each one. The content is
 * read separately (wlPaste), so the watcher's command only says that something changed.
 */
export function wlWatch(w: WaylandSession, onChange: () => void, onExit: (why: string) => void): { stop(): void } {
  const p = spawn('wl-paste', ['--type', 'text', '--watch', 'sh', '-c', 'cat >/dev/null; echo'], { env: childEnv(w), stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = collect(p);
  let stopped = false;
  p.stdout.on('data', (b: Buffer) => {
    for (const c of b) if (c === 10) onChange();
  });
  p.once('error', (err) => onExit(`cannot run wl-paste --watch: ${err.message}`));
  p.once('close', (code, signal) => {
    if (!stopped) onExit(`wl-paste --watch ended (${stderr() || (signal ? signal : `exit ${code}`)})`);
  });
  return {
    stop: () => {
      stopped = true;
      p.kill('SIGTERM');
    },
  };
}
