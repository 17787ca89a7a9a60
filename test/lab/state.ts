// The lab outlives the process that starts it (CLI `up`), so what later commands need is kept in
// /run/tower-lab-<prefix>/state.json. /run is a tmpfs: a reboot, which also ends every namespace, clears it.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlive, startTicks } from './proc.js';
import type { LabState, ProcessIdentity } from './types.js';

export const stateDir = (prefix: string): string => `/run/tower-lab-${prefix}`;
const statePath = (prefix: string): string => join(stateDir(prefix), 'state.json');

export class NoLabError extends Error {
  override name = 'NoLabError';
}

/**
 * Takes the prefix: creating the state directory is atomic, so of two processes starting the same lab,
 * one gets EEXIST and never touches (or tears down) the other's namespaces. Returns false if it exists.
 */
export async function claimStateDir(prefix: string): Promise<boolean> {
  try {
    await mkdir(stateDir(prefix), { mode: 0o700 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

let saveCounter = 0;

export async function saveState(state: LabState): Promise<void> {
  await mkdir(stateDir(state.prefix), { recursive: true, mode: 0o700 });
  const file = statePath(state.prefix);
  // Write-then-rename so a reader never sees half a file; a unique temp name lets concurrent saves not collide.
  const tmp = `${file}.${process.pid}.${++saveCounter}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

export async function loadState(prefix: string): Promise<LabState> {
  let text: string;
  try {
    text = await readFile(statePath(prefix), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NoLabError(`no running lab with prefix '${prefix}' (no ${statePath(prefix)}); start one with \`up --prefix ${prefix}\``);
    }
    throw err;
  }
  const state = JSON.parse(text) as LabState;
  if (state.version !== 1 || state.prefix !== prefix) throw new Error(`${statePath(prefix)} is not a lab state file for '${prefix}'`);
  return state;
}

/** The state if there is a state file, undefined if there is none. */
export async function readStateIfAny(prefix: string): Promise<LabState | undefined> {
  try {
    return await loadState(prefix);
  } catch (err) {
    if (err instanceof NoLabError) return undefined;
    throw err;
  }
}

export async function currentProcess(): Promise<ProcessIdentity> {
  const ticks = await startTicks(process.pid);
  if (ticks === undefined) throw new Error('cannot read this process’s start time from /proc');
  return { pid: process.pid, startTicks: ticks };
}

/** Whether the lab still has a reason to exist: persistent, or its owner process is still the same process. */
export async function ownerAlive(state: LabState): Promise<boolean> {
  if (state.owner === null) return true;
  return (await isAlive(state.owner.pid)) && (await startTicks(state.owner.pid)) === state.owner.startTicks;
}
