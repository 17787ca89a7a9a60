import { runCaptured, type Captured } from '../../core/exec/run.js';
import { TowerError } from '../../core/errors.js';
import type { HostSession } from '../../core/ssh/session.js';
import { CONTROL, LAUNCH, SUPERVISOR, parseHostApps, parseLaunch, type HostAppLine, type LaunchResult } from './hostscript.js';

// The apps' host side, run over the host's connection: hostscript.ts's scripts with their arguments and timeouts.

export interface LaunchParams {
  dirName: string;
  width: number;
  height: number;
  closeGraceMs: number;
  title: string;
  /** PULSE_SERVER for the app, '' for none */
  pulse: string;
  argv: string[];
}

/** Start an app under its supervisor on the host: its folder, display and pid, or a TowerError saying why not. */
export async function launchOnHost(s: HostSession, host: string, p: LaunchParams): Promise<LaunchResult> {
  try {
    const r = await runCaptured(
      s,
      ['sh', '-c', LAUNCH, 'tower-app', SUPERVISOR, p.dirName, String(p.width), String(p.height), String(p.closeGraceMs / 1000), p.title, p.pulse, '--', ...p.argv],
      30_000,
    );
    const launched = parseLaunch(r.stdout);
    // a program of Tower's own that the host lacks (hostscript LAUNCH's check) is what `host setup` installs
    if (!launched.ok) throw new TowerError('AppFailed', `${host}: ${launched.error}${/^\S+ is not installed on /.test(launched.error) ? `; towerctl host setup ${host} installs what Tower needs there` : ''}`);
    return launched.value;
  } catch (err) {
    if (err instanceof TowerError) throw err;
    throw new TowerError('AppFailed', `cannot start the app on ${host}: ${(err as Error).message}`);
  }
}

/** Every app folder on the host, by folder name. */
export async function listOnHost(s: HostSession): Promise<Map<string, HostAppLine>> {
  const r = await runCaptured(s, ['sh', '-c', CONTROL, 'tower-apps', 'list'], 10_000);
  if (r.code !== 0) throw new Error(`listing apps failed (${r.code})`);
  return new Map(parseHostApps(r.stdout).map((l) => [l.name, l]));
}

export type HostOutcome = { running: true } | { running: false; code: number | null };

/**
 * What one of the host's lines says of an app: running, or gone with its exit status (null when unknown). No line
 * means gone too: its folder was cleaned up.
 */
export function hostOutcome(line: HostAppLine | undefined): HostOutcome {
  if (line?.state === 'running') return { running: true };
  return { running: false, code: line && line.status !== '-' ? Number(line.status) : null };
}

/** One app's outcome on its host; 'unknown' when the host could not tell. */
export async function outcomeOnHost(s: HostSession, dirName: string): Promise<HostOutcome | 'unknown'> {
  try {
    return hostOutcome((await listOnHost(s)).get(dirName));
  } catch {
    return 'unknown';
  }
}

/**
 * close: WM_DELETE_WINDOW, TERM, KILL (hostscript.ts); clean: remove a finished app's folder; discard: close an app
 * no towerd knows and remove its folder.
 */
export function controlOnHost(s: HostSession, verb: 'close' | 'clean' | 'discard', dirName: string): Promise<Captured> {
  return runCaptured(s, ['sh', '-c', CONTROL, 'tower-apps', verb, dirName], 10_000);
}

/** Resize the app's screen (xrandr on its Xvnc). */
export function resizeOnHost(s: HostSession, dirName: string, w: number, h: number): Promise<Captured> {
  return runCaptured(s, ['sh', '-c', CONTROL, 'tower-apps', 'resize', dirName, String(w), String(h)], 5000);
}
