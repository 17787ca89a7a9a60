import type { Role } from '../../../protocol/host.js';

/** The clock settings (settings.clock). */
export interface ClockSettings {
  everyMs: number;
  maxOffsetMs: number;
  hosts: Record<string, { set?: boolean | undefined }>;
}

export interface ClockPolicy {
  policy: 'set' | 'leave';
  reason: string;
}

/**
 * Whether towerd may set a host's clock. An explicit `clock.hosts.NAME.set` decides; otherwise only an offline host
 * (no way to the internet, so no time source of its own) whose clock no time service keeps: the router and online
 * hosts run chronyd on TowerOS, and a clock a host keeps right itself is never moved. `source` is the time service
 * running on the host, 'none', or null while not known (then nothing is set).
 */
export function clockPolicy(cfg: ClockSettings, name: string, role: Role, source: string | null): ClockPolicy {
  const set = cfg.hosts[name]?.set;
  if (set === true) return { policy: 'set', reason: `clock.hosts.${name}.set is true` };
  if (set === false) return { policy: 'leave', reason: `clock.hosts.${name}.set is false` };
  if (role !== 'offline') return { policy: 'leave', reason: `${role === 'router' ? 'the router' : 'an online host'}: it has a time source of its own` };
  if (source === null) return { policy: 'leave', reason: 'its time service is not known yet' };
  if (source !== 'none') return { policy: 'leave', reason: `${source} keeps its clock` };
  return { policy: 'set', reason: 'an offline host without a time service' };
}

/**
 * Does this measurement call for setting the clock? Only when the offset is surely beyond the limit: the nearest
 * end of the measured bounds must be off by more than maxOffsetMs.
 */
export function needsSetting(cfg: Pick<ClockSettings, 'maxOffsetMs'>, m: { offsetMs: number; boundMs: number }): boolean {
  return Math.abs(m.offsetMs) - m.boundMs > cfg.maxOffsetMs;
}

/**
 * `date` as busybox (and GNU) set a clock from seconds since the epoch: `date -u -s @SECONDS`. Busybox sets whole
 * seconds only (its stime/clock_settime gets no fraction), so the caller sends it when the thin client's clock,
 * plus the way there, reaches that second.
 */
export function dateSetArgv(privilege: readonly string[], epochSeconds: number): string[] {
  if (!Number.isSafeInteger(epochSeconds) || epochSeconds < 0) throw new Error(`not a time to set: ${epochSeconds}`);
  return [...privilege, 'date', '-u', '-s', `@${epochSeconds}`];
}

/**
 * When to send `date -s @T` and which T: the first whole second T at least `leadMs` ahead such that the command,
 * sent at T − oneWayMs (the round trip's half plus the host's start-up of the privilege command and date), runs on
 * the host as the thin client's clock reads T.
 */
export function setSchedule(nowMs: number, oneWayMs: number, leadMs = 200): { epochSeconds: number; sendAtMs: number } {
  const epochSeconds = Math.ceil((nowMs + oneWayMs + leadMs) / 1000);
  return { epochSeconds, sendAtMs: epochSeconds * 1000 - oneWayMs };
}

/** The host's time service from the probe's output: one word, or 'none'. */
export function parseSource(stdout: string): string | null {
  const w = stdout.trim();
  return /^[a-z][a-z0-9_-]{0,31}$/.test(w) ? w : null;
}

/** Prints the first time service found running on the host, else `none`: chrony (TowerOS), or another NTP daemon. */
export const SOURCE_PROBE = `for p in chronyd ntpd openntpd; do
  if pgrep -x "$p" >/dev/null 2>&1 || pidof "$p" >/dev/null 2>&1; then echo "$p"; exit 0; fi
done
echo none`;
