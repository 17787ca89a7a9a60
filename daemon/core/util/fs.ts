import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readFile, rename, unlink, chmod } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/**
 * Replace a file atomically: write a temporary file beside it, fsync, rename over. Readers see the old or the
 * new content, never a half-written file, and a crash leaves at most a stray `.tmp` file.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

export class UnsafeDirectoryError extends Error {}

/**
 * Create `dir` (and parents) if missing and make sure it is a real directory owned by us with mode 0700.
 * Refuses symlinks and directories owned by someone else: in a shared /tmp an attacker could pre-create them.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new UnsafeDirectoryError(`${dir} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new UnsafeDirectoryError(`${dir} belongs to uid ${st.uid}, not to us (uid ${uid}); refusing to use it`);
  }
  if ((st.mode & 0o777) !== 0o700) await chmod(dir, 0o700);
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

/** Read a file, or undefined when it does not exist. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}
