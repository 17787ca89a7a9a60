import type { Settings } from '../../core/settings.js';

export type UpdateSettings = Settings['packages']['updates'];

// Windows and due times, in the thin client's local time.

const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

interface Window {
  start: number;
  end: number;
}

/** "03:00-05:00" → minutes of the day; the end may be before the start (crossing midnight). */
export function parseWindow(w: string): Window {
  const m = /^(\d\d):(\d\d)-(\d\d):(\d\d)$/.exec(w);
  if (!m) throw new Error(`not a time window: ${w}`);
  return { start: Number(m[1]) * 60 + Number(m[2]), end: Number(m[3]) * 60 + Number(m[4]) };
}

function minuteOfDay(t: number): number {
  const d = new Date(t);
  return d.getHours() * 60 + d.getMinutes();
}

export function inWindow(t: number, w: string | null): boolean {
  if (!w) return true;
  const { start, end } = parseWindow(w);
  const m = minuteOfDay(t);
  return start < end ? m >= start && m < end : m >= start || m < end;
}

/** The first instant at or after `t` inside the window. */
export function nextInWindow(t: number, w: string | null): number {
  if (!w || inWindow(t, w)) return t;
  const { start } = parseWindow(w);
  const d = new Date(t);
  const s = new Date(d.getFullYear(), d.getMonth(), d.getDate(), Math.floor(start / 60), start % 60, 0, 0);
  if (s.getTime() <= t) s.setDate(s.getDate() + 1);
  return s.getTime();
}

function windowLengthMs(w: string | null): number {
  if (!w) return 0;
  const { start, end } = parseWindow(w);
  return ((end - start + 1440) % 1440 || 1440) * MINUTE;
}

/** What the due time of one host is computed from. */
export interface DueFacts {
  lastOkAt: number | null;
  failedAt: number | null;
  failures: number;
}

export interface HostPlan {
  enabled: boolean;
  intervalHours: number;
  window: string | null;
}

/** The settings for one host: the defaults with its own overrides. */
export function hostPlan(cfg: UpdateSettings, name: string): HostPlan {
  const o = cfg.hosts[name] ?? {};
  return {
    enabled: cfg.enabled && (o.enabled ?? true),
    intervalHours: o.intervalHours ?? cfg.intervalHours,
    window: o.window === undefined ? cfg.window : o.window,
  };
}

export function backoffMs(cfg: UpdateSettings, failures: number): number {
  return Math.min(cfg.retry.capMs, cfg.retry.initialMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
}

/**
 * The earliest time the next automatic run may start, before the window is applied. After a failure: the failure
 * plus the backoff. After a success: the interval, less the window's length (at most half the interval), so that a
 * daily run late in its window does not drift out of it and skip a day. Never run: at once.
 */
export function dueBase(facts: DueFacts, plan: HostPlan, cfg: UpdateSettings): number {
  if (facts.failures > 0 && facts.failedAt !== null) return facts.failedAt + backoffMs(cfg, facts.failures);
  if (facts.lastOkAt === null) return -Infinity;
  const interval = plan.intervalHours * HOUR;
  return facts.lastOkAt + interval - Math.min(windowLengthMs(plan.window), interval / 2);
}

/** When the next automatic run may start, seen from `now` (`now` itself when it is due). */
export function nextDue(facts: DueFacts, plan: HostPlan, cfg: UpdateSettings, now: number): number {
  return nextInWindow(Math.max(dueBase(facts, plan, cfg), now), plan.window);
}
