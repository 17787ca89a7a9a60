import { createConnection } from 'node:net';
import { lstat, mkdir, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ensurePrivateDir, isErrno } from './util/fs.js';

export class AlreadyRunningError extends Error {}

/** Does anybody answer on this socket? ECONNREFUSED means a stale file left by a dead daemon. */
export function probeSocket(path: string, timeoutMs = 1000): Promise<'alive' | 'stale' | 'absent'> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    const timer = setTimeout(() => {
      sock.destroy();
      // a listener that accepts nothing within a second is wedged, not gone: do not steal its socket
      resolve('alive');
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve('alive');
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNREFUSED') resolve('stale');
      else if (err.code === 'ENOENT') resolve('absent');
      else reject(err);
    });
  });
}

/**
 * Make `path` free for us to listen on: its folder private (0700, ours), no live daemon behind it, a stale socket
 * file removed. Two daemons starting at once are serialized by a lock directory (mkdir is atomic), so neither can
 * delete the other's fresh socket. Returns a function that releases the lock once listening.
 */
export async function claimSocket(path: string): Promise<() => Promise<void>> {
  await ensurePrivateDir(dirname(path));
  const lock = `${path}.lock`;
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      await mkdir(lock, { mode: 0o700 });
      break;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
      const st = await stat(lock).catch(() => null);
      // a lock older than 10 s belongs to a daemon that died while starting
      if (st && Date.now() - st.mtimeMs > 10_000) await rmdir(lock).catch(() => undefined);
      if (Date.now() > deadline) throw new AlreadyRunningError(`another towerd is starting on ${path} (lock ${lock})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const release = () => rmdir(lock).catch(() => undefined);
  try {
    const st = await lstat(path).catch((err: unknown) => {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    });
    if (st) {
      if (!st.isSocket()) throw new AlreadyRunningError(`${path} exists and is not a socket; refusing to replace it`);
      const state = await probeSocket(path);
      if (state === 'alive') throw new AlreadyRunningError(`towerd is already running on ${path}`);
      if (state === 'stale') await unlink(path);
    }
  } catch (err) {
    await release();
    throw err;
  }
  return release;
}
