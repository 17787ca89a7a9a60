// /proc inspection for the lab's process bookkeeping. Pids here are always root-namespace pids.
import { readFile, readdir, readlink, stat } from 'node:fs/promises';
import { waitFor } from './exec.js';

function isErrno(err: unknown, ...codes: string[]): boolean {
  return err instanceof Error && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

/** True while the process exists and is not a zombie (a zombie holds its pid but runs nothing). */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The state field follows the parenthesised command name, which may itself contain ')'.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ESRCH')) return false;
    throw err;
  }
}

/** Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), or undefined if it is gone. */
export async function startTicks(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name start at field 3 (state); field 22 is therefore index 19.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ESRCH')) return undefined;
    throw err;
  }
}

/** Direct children of pid (needs CONFIG_PROC_CHILDREN, which Debian kernels have). */
export async function childrenOf(pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return text.split(/\s+/).filter(Boolean).map(Number);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ESRCH')) return [];
    throw err;
  }
}

/** The pid as seen from inside the innermost PID namespace of the process (last NSpid field). */
export async function innerPid(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const line = status.split('\n').find((l) => l.startsWith('NSpid:'));
    const last = line?.trim().split(/\s+/).pop();
    return last ? Number(last) : undefined;
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ESRCH')) return undefined;
    throw err;
  }
}

/** Inode of a named network namespace (the file under /run/netns), or undefined if it is gone. */
export async function netnsInode(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/** Parses a lab init's command line (`bash -c SCRIPT tower-lab-init:<prefix>:<host> …`) into its prefix. */
export function initPrefixOf(cmdline: string, markerStem: string): string | undefined {
  const argv = cmdline.split('\0');
  const tag = argv[0] === 'bash' && argv[1] === '-c' ? argv[3] : undefined;
  if (!tag?.startsWith(markerStem)) return undefined;
  return tag.slice(markerStem.length).split(':')[0];
}

export interface LabProcess {
  pid: number;
  /** Set when the process is a lab host's init (PID 1 of the host). */
  initPrefix?: string;
}

/**
 * Processes whose network namespace is one of `inodes`, plus lab inits whose marker names a prefix accepted
 * by `wantInit` (inits are found this way even after their netns name was deleted by a crashed run).
 */
export async function findLabProcesses(
  inodes: ReadonlySet<number>,
  markerStem: string,
  wantInit: (prefix: string) => boolean,
): Promise<LabProcess[]> {
  const found: LabProcess[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const link = await readlink(`/proc/${pid}/ns/net`);
      const ino = Number(/\[(\d+)\]/.exec(link)?.[1]);
      const initPrefix = initPrefixOf(await readFile(`/proc/${pid}/cmdline`, 'utf8'), markerStem);
      if (inodes.has(ino) || (initPrefix !== undefined && wantInit(initPrefix))) found.push({ pid, initPrefix });
    } catch (err) {
      // Processes exit while we scan, and kernel threads have no readable ns link: neither is ours.
      if (isErrno(err, 'ENOENT', 'ESRCH', 'EACCES')) continue;
      throw err;
    }
  }
  return found;
}

/** Sends signal to each pid that is still there; a pid that already exited is fine. */
export function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if (!isErrno(err, 'ESRCH')) throw err;
    }
  }
}

/** Waits (bounded) until none of the pids is alive. */
export async function waitAllDead(pids: readonly number[], timeoutMs: number): Promise<void> {
  await waitFor(
    `pids ${pids.join(',')} to exit`,
    async () => {
      for (const pid of pids) if (await isAlive(pid)) return undefined;
      return true;
    },
    { timeoutMs, intervalMs: 25 },
  );
}

/** TERM, then KILL after graceMs if it is still there, then wait (bounded) for it to go. */
export async function stopProcess(pid: number, graceMs = 2000): Promise<void> {
  signalAll([pid], 'SIGTERM');
  try {
    await waitAllDead([pid], graceMs);
  } catch {
    // It ignored TERM within the grace period: that is what KILL is for. Any other outcome is checked below.
    signalAll([pid], 'SIGKILL');
    await waitAllDead([pid], 3000);
  }
}
