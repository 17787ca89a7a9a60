import { lstat, mkdir, readFile, chmod } from 'node:fs/promises';

export { writeFileAtomic } from '../../shared/atomic.js';

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
