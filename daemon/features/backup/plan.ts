import type { Settings } from '../../core/settings.js';
import type { SetState } from './store.js';

export type BackupSettings = Settings['backup'];
export type SetConfig = BackupSettings['sets'][number];

export const HOUR = 3_600_000;
const ms = (s: string | null) => (s === null ? null : Date.parse(s));

export function backoffMs(cfg: BackupSettings, failures: number): number {
  return Math.min(cfg.retry.capMs, cfg.retry.initialMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
}

/** When the next automatic backup may start: never run, at once; after a failure, the backoff; else the interval. */
export function backupDue(st: SetState, set: SetConfig, cfg: BackupSettings): number {
  const failedAt = ms(st.failedAt);
  if (st.failures > 0 && failedAt !== null) return failedAt + backoffMs(cfg, st.failures);
  const ok = ms(st.lastOkAt);
  return ok === null ? -Infinity : ok + set.everyHours * HOUR;
}

/** When the next verification may start: only once there is a repository, verifyEveryHours after the last one. */
export function verifyDue(st: SetState, cfg: BackupSettings): number | null {
  const base = ms(st.lastVerify?.at ?? st.firstOkAt);
  if (base === null) return null;
  if (st.verifyFailures > 0 && st.lastVerify) return base + backoffMs(cfg, st.verifyFailures);
  return base + cfg.verifyEveryHours * HOUR;
}

/** No successful backup within the freshness target, or none at all. */
export function isStale(st: SetState, set: SetConfig, now: number): boolean {
  const ok = ms(st.lastOkAt);
  return ok === null || now - ok > set.maxAgeHours * HOUR;
}

/** The snapshot folder a restore goes to by default, relative to the login user's home. */
export function defaultRestoreDir(shortId: string, time: string): string {
  const d = new Date(time);
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = Number.isNaN(d.getTime()) ? 'unknown' : `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
  return `TowerRestore/${shortId}-${stamp}`;
}
