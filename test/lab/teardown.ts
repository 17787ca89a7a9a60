// Complete removal of a lab by prefix alone, so it also works after a crashed run with no state file:
// kill every process in the lab's network namespaces (a host init's death takes its whole PID namespace,
// and with it the host's private mounts), then delete the namespaces and the state directory.
import { readdir, rm, stat } from 'node:fs/promises';
import { INIT_MARKER } from './enter.js';
import { deleteNetns, listNetns, netnsPath } from './netns.js';
import { findLabProcesses, netnsInode, signalAll, waitAllDead, type LabProcess } from './proc.js';
import { ownerAlive, readStateIfAny, stateDir } from './state.js';
import { netnsPattern, validatePrefix } from './topology.js';

/** Kill rounds: a process in the lab may fork between a scan and the kill, so scan again (bounded). */
const KILL_ROUNDS = 4;

async function killAndWait(pids: readonly number[]): Promise<void> {
  signalAll(pids, 'SIGKILL');
  await waitAllDead(pids, 5000);
}

/**
 * Host inits die first, alone: the kernel then kills their PID namespaces while the nsenter wrappers
 * outside are still alive to reap their children (sshd, execHost commands). Killed together, those
 * children would be reaped by the machine's PID 1 instead, and an init's exit waits for that reaping.
 */
async function killLabProcesses(prefixes: ReadonlySet<string>, namespaces: readonly string[]): Promise<void> {
  const inodes = new Set<number>();
  for (const ns of namespaces) {
    const ino = await netnsInode(netnsPath(ns));
    if (ino !== undefined) inodes.add(ino);
  }
  const scan = (): Promise<LabProcess[]> => findLabProcesses(inodes, INIT_MARKER, (p) => prefixes.has(p));
  for (let round = 0; round < KILL_ROUNDS; round++) {
    const procs = await scan();
    if (procs.length === 0) return;
    const inits = procs.filter((p) => p.initPrefix !== undefined).map((p) => p.pid);
    if (inits.length > 0) await killAndWait(inits);
    const rest = (await scan()).map((p) => p.pid);
    if (rest.length > 0) await killAndWait(rest);
  }
  const left = await scan();
  if (left.length > 0) throw new Error(`lab processes survived ${KILL_ROUNDS} kill rounds: ${left.map((p) => p.pid).join(', ')}`);
}

async function downPrefixes(prefixes: ReadonlySet<string>): Promise<void> {
  const patterns = [...prefixes].map(netnsPattern);
  const ours = (names: string[]): string[] => names.filter((n) => patterns.some((re) => re.test(n)));
  const namespaces = ours(await listNetns());
  await killLabProcesses(prefixes, namespaces);
  await deleteNetns(namespaces);
  for (const prefix of prefixes) await rm(stateDir(prefix), { recursive: true, force: true });
  const left = ours(await listNetns());
  if (left.length > 0) throw new Error(`network namespaces still present after teardown: ${left.join(', ')}`);
}

/** Kills the processes of the given namespaces (which ends the hosts among them) and deletes the namespaces. */
export async function removeNamespaces(namespaces: readonly string[]): Promise<void> {
  const present = new Set(await listNetns());
  const names = namespaces.filter((n) => present.has(n));
  await killLabProcesses(new Set(), names);
  await deleteNetns(names);
}

/** Removes every namespace, process and mount of the lab with this prefix. Idempotent. */
export async function labDownPrefix(prefix: string): Promise<void> {
  validatePrefix(prefix);
  await downPrefixes(new Set([prefix]));
}

/** A state dir this young without a state file belongs to a labUp that is just starting. */
const STARTING_GRACE_MS = 30_000;

/** Namespaces or a state directory exist for this prefix. */
export async function labPresent(prefix: string): Promise<boolean> {
  const pattern = netnsPattern(prefix);
  if ((await listNetns()).some((n) => pattern.test(n))) return true;
  return (await mtimeMs(stateDir(prefix))) !== undefined;
}

/**
 * Stale = nobody can be using it: its owner process is gone (persistent labs never are), or it has no
 * state file and is older than a starting labUp could be (a crash before the first save).
 */
export async function labIsStale(prefix: string): Promise<boolean> {
  const state = await readStateIfAny(prefix);
  if (state) return !(await ownerAlive(state));
  const since = await mtimeMs(stateDir(prefix));
  return since === undefined || Date.now() - since > STARTING_GRACE_MS;
}

async function mtimeMs(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Every prefix starting with `family` that has namespaces, a state directory or orphaned inits. */
async function prefixesOfFamily(family: string): Promise<Set<string>> {
  const re = new RegExp(`^(${family}[a-z0-9]*)-[a-z0-9]+$`);
  const prefixes = new Set<string>();
  for (const ns of await listNetns()) {
    const m = re.exec(ns);
    if (m) prefixes.add(m[1]!);
  }
  for (const entry of await readdir('/run')) {
    const m = /^tower-lab-([a-z][a-z0-9]*)$/.exec(entry);
    if (m && m[1]!.startsWith(family)) prefixes.add(m[1]!);
  }
  // Inits whose netns names are already gone still carry their prefix in their command line.
  for (const o of await findLabProcesses(new Set(), INIT_MARKER, (p) => p.startsWith(family))) {
    if (o.initPrefix) prefixes.add(o.initPrefix);
  }
  return prefixes;
}

/**
 * Removes the stale labs among those whose prefix starts with `family` (e.g. 'twl' covers 'twl', 'twlt1a2b'),
 * leaving labs that a live process or a persistent `up` still owns. This is what the integration tests'
 * global setup runs, so a run never tears down a lab another run on the same machine is using.
 */
export async function labDownStale(family: string): Promise<{ removed: string[]; kept: string[] }> {
  validatePrefix(family);
  const removed: string[] = [];
  const kept: string[] = [];
  for (const prefix of [...(await prefixesOfFamily(family))].sort()) {
    (await labIsStale(prefix) ? removed : kept).push(prefix);
  }
  if (removed.length > 0) await downPrefixes(new Set(removed));
  return { removed, kept };
}
