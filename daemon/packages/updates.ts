import { join } from 'node:path';
import * as z from 'zod/mini';
import type { Role, UpdateSummary } from '../../protocol/host.js';
import { UpdateOutcome } from '../../protocol/host.js';
import { PackageUpgrade, UpdateRun, type HostUpdates, type UpdateKind, type UpdateResult } from '../../protocol/updates.js';
import type { ApiContext } from '../api/context.js';
import { saveWorld } from '../api/packages.js';
import { runCaptured, type Captured } from '../exec/run.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';
import { readIfExists, writeFileAtomic } from '../util/fs.js';
import { apkArgv, privilegeMissing, privilegeMissingMessage, type ApkCommand } from './command.js';
import type { OpenRelay } from './relays.js';

export type UpdateSettings = Settings['packages']['updates'];

// ---------------------------------------------------------------------------------------------------------------
// Windows and due times (local time of the thin client)

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

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

// ---------------------------------------------------------------------------------------------------------------
// apk's output

const UPGRADING = /^\(\s*\d+\/\d+\) Upgrading (\S+) \((\S+) -> (\S+)\)$/;
const MAX_LINES = 50_000;

/**
 * The upgrades in the output of `apk upgrade` (with or without --simulate): apk prints one
 * `(i/n) Upgrading NAME (OLD -> NEW)` line per package. A line of that shape whose name or versions do not pass
 * the schemas makes the whole output untrusted.
 */
export function parseUpgrades(stdout: string): PackageUpgrade[] {
  const out: PackageUpgrade[] = [];
  const lines = stdout.split('\n');
  if (lines.length > MAX_LINES) throw new Error(`apk printed more than ${MAX_LINES} lines`);
  for (const raw of lines) {
    const m = UPGRADING.exec(raw.replace(/\r$/, ''));
    if (!m) continue;
    const p = PackageUpgrade.safeParse({ name: m[1], from: m[2], to: m[3] });
    if (!p.success) throw new Error(`unexpected apk output: ${JSON.stringify(raw.slice(0, 200))}`);
    out.push(p.data);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// State on disk: ~/.local/tower/hosts/NAME/updates.json

const Iso = z.nullable(z.iso.datetime());
export const UpdatesFile = z.object({
  version: z.literal(1),
  last: z.nullable(UpdateRun),
  lastOkAt: Iso,
  failedAt: Iso,
  checkedAt: Iso,
  pending: z.nullable(z.int().check(z.gte(0))),
  pendingPackages: z.array(PackageUpgrade).check(z.maxLength(10_000)),
  failures: z.int().check(z.gte(0), z.lte(1000)),
  nextDue: Iso,
});
export type UpdatesFile = z.infer<typeof UpdatesFile>;

export interface UpdateStore {
  /** the file's content, undefined when there is none */
  load(name: string): Promise<string | undefined>;
  save(name: string, text: string): Promise<void>;
}

export function fileStore(hostsDir: string): UpdateStore {
  return {
    load: (name) => readIfExists(join(hostsDir, name, 'updates.json')),
    // the host's folder is never created here: a host removed while it was updating must not come back
    save: (name, text) => writeFileAtomic(join(hostsDir, name, 'updates.json'), text, 0o600),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Running apk on a host

/** One host's update session: for an offline host the package relay stays open from the check to the end. */
export interface UpdateSession {
  /** refresh the index and list the upgrades apk would make */
  check(): Promise<PackageUpgrade[]>;
  /** upgrade everything; what was upgraded and what apk still offers afterwards */
  upgrade(): Promise<{ upgraded: PackageUpgrade[]; pending: PackageUpgrade[] }>;
  close(): Promise<void>;
}

export interface UpdateRunner {
  open(name: string): Promise<UpdateSession>;
}

function apkFailure(what: string, r: Captured, host: string, cmd: Pick<ApkCommand, 'privilege'>): Error {
  if (r.code === null) return new Error(`${what}: no exit status (connection lost or timed out)`);
  if (privilegeMissing(cmd, r)) return new Error(privilegeMissingMessage(host, cmd));
  const line = r.stderr.split('\n').map((l) => l.trim()).filter(Boolean).pop();
  return new Error(`${what}: apk exited with ${r.code}${line ? `: ${line.slice(0, 300)}` : ''}`);
}

/**
 * apk on the hosts, the way `towerctl upgrade` runs it (packages.privilege, packages.apk, the relay for offline
 * hosts), with the output captured instead of streamed. Counting uses apk's own solver: `apk upgrade
 * --update-cache --simulate` refreshes the indexes and prints the transaction without changing anything.
 */
export class ApkUpdateRunner implements UpdateRunner {
  constructor(private readonly ctx: Pick<ApiContext, 'registry' | 'supervisor' | 'relays' | 'settings' | 'log' | 'paths'>) {}

  async open(name: string): Promise<UpdateSession> {
    const host = this.ctx.registry.get(name);
    if (!host) throw new Error(`no host named ${name}`);
    const s = this.ctx.supervisor()?.get(name);
    if (!s?.connection) throw new Error(`${name} is not connected`);
    let relay: OpenRelay | undefined;
    if (host.role === 'offline') {
      try {
        relay = await this.ctx.relays.open(name);
      } catch (err) {
        throw new Error(`cannot relay packages for ${name}: ${(err as Error).message}`, { cause: err });
      }
    }
    const timeout = () => this.ctx.settings().packages.updates.timeoutMs;
    const apk = (extra: string[]) => [...apkArgv(this.ctx.settings().packages, 'upgrade', [], { proxyUrl: relay?.url, progress: false }), ...extra];
    const count = async (refresh: boolean) => {
      const r = await runCaptured(s, apk([...(refresh ? ['--update-cache'] : []), '--simulate']), timeout());
      if (r.code !== 0) throw apkFailure(refresh ? 'refreshing the index' : 'counting upgrades', r, name, this.ctx.settings().packages);
      return parseUpgrades(r.stdout);
    };
    return {
      check: () => count(true),
      upgrade: async () => {
        const r = await runCaptured(s, apk(['--no-interactive']), timeout());
        if (r.code !== 0) throw apkFailure('apk upgrade', r, name, this.ctx.settings().packages);
        const upgraded = parseUpgrades(r.stdout);
        await saveWorld(this.ctx, s);
        return { upgraded, pending: await count(false) };
      },
      close: async () => {
        await relay?.close();
      },
    };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The scheduler

export interface UpdateTarget {
  name: string;
  role: Role;
}

export interface SchedulerDeps {
  hosts(): UpdateTarget[];
  /** the host's SSH connection is up */
  connected(name: string): boolean;
  /** apps running on the host now (AppManager.running) */
  runningApps(name: string): number;
  settings(): UpdateSettings;
  runner: UpdateRunner;
  store: UpdateStore;
  log: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** something shown by updates.list or the host's summary changed */
  changed(name: string, updates: HostUpdates, summary: UpdateSummary | undefined): void;
  /** evaluation period; the scheduler is also woken by noteState, requests and finished runs */
  tickMs?: number;
}

interface HostState extends DueFacts {
  last: UpdateRun | null;
  checkedAt: number | null;
  pending: number | null;
  pendingPackages: PackageUpgrade[];
  running: 'queued' | 'checking' | 'upgrading' | null;
  waiting: string | null;
}

interface Request {
  name: string;
  kind: UpdateKind;
  force: boolean;
  done: (r: UpdateResult) => void;
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const ms = (s: string | null) => (s === null ? null : Date.parse(s));
const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;

/**
 * Automatic security updates. Every host, in its window and once per interval, gets its index refreshed and its
 * pending upgrades counted, then `apk upgrade` — only while it is connected (an offline host also needs the
 * router, its relay), never while it runs an app (checked again right before apk upgrade starts), at most
 * `maxConcurrent` hosts at a time, with exponential backoff after failures. What happened is kept per host in
 * updates.json so that a restart neither forgets it nor runs a host again that just ran.
 */
export class UpdateScheduler {
  private readonly states = new Map<string, HostState>();
  private readonly loading = new Map<string, Promise<void>>();
  private readonly active = new Map<string, Promise<UpdateResult>>();
  private readonly queue: Request[] = [];
  private readonly onlineSince = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private again = false;
  private stopped = false;
  private pokeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SchedulerDeps) {}

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.poke(), this.deps.tickMs ?? 30_000);
    this.timer.unref();
    this.poke();
  }

  /** Stops scheduling; runs in progress finish (their apk is not interrupted halfway). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.pokeTimer);
    for (const r of this.queue.splice(0)) r.done({ name: r.name, result: 'skipped', reason: 'towerd is stopping', pending: null, upgraded: [], unreachable: false });
  }

  /** Connection changes from the supervisor: a host must have been connected for settleMs before a run. */
  noteState(name: string, connected: boolean, now = Date.now()): void {
    if (connected) {
      if (!this.onlineSince.has(name)) this.onlineSince.set(name, now);
    } else this.onlineSince.delete(name);
    this.poke();
  }

  /** After a settings reload: windows, intervals and who is enabled may have changed. */
  settingsChanged(): void {
    for (const name of this.states.keys()) this.publish(name);
    this.poke();
  }

  /** Evaluate soon (coalesced). */
  poke(): void {
    if (this.stopped || this.pokeTimer) return;
    this.pokeTimer = setTimeout(() => {
      this.pokeTimer = undefined;
      void this.tick();
    }, 0);
    this.pokeTimer.unref();
  }

  /** One evaluation now; resolves when every host was looked at (runs started are not waited for). */
  async tick(): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    try {
      do {
        this.again = false;
        await this.evaluate();
      } while (this.again && !this.stopped);
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, 'update scheduler');
    } finally {
      this.ticking = false;
    }
  }

  /** Updates of every (or the named) host, as updates.list shows them. */
  async list(names?: string[]): Promise<HostUpdates[]> {
    const hosts = this.deps.hosts().filter((h) => !names || names.includes(h.name));
    await Promise.all(hosts.map((h) => this.ensureLoaded(h.name)));
    return hosts.map((h) => this.hostUpdates(h.name));
  }

  /** The summary shown in HostInfo; undefined when updates are off for that host or not loaded yet. */
  summary(name: string): UpdateSummary | undefined {
    const st = this.states.get(name);
    if (!st || !hostPlan(this.deps.settings(), name).enabled) return undefined;
    return {
      pending: st.pending,
      last: st.last?.result ?? null,
      lastAt: st.last?.at ?? null,
      reason: st.last?.reason ?? null,
      running: st.running === 'checking' || st.running === 'upgrading',
    };
  }

  /**
   * Run (or only check) these hosts now, whatever their window and due time, within the concurrency cap. A host
   * already running is not started twice: its current run's result is returned.
   */
  async request(names: string[], kind: UpdateKind, force = false): Promise<UpdateResult[]> {
    await Promise.all(names.map((n) => this.ensureLoaded(n)));
    const results = names.map((name) => {
      const running = this.active.get(name);
      if (running) return running;
      const queued = this.queue.find((q) => q.name === name && q.kind === kind);
      return new Promise<UpdateResult>((done) => {
        if (queued) {
          const prev = queued.done;
          queued.done = (r) => {
            prev(r);
            done(r);
          };
          queued.force ||= force;
          return;
        }
        this.queue.push({ name, kind, force, done });
        this.setRunning(name, 'queued');
      });
    });
    this.poke();
    return Promise.all(results);
  }

  private async ensureLoaded(name: string): Promise<void> {
    if (this.states.has(name)) return;
    let p = this.loading.get(name);
    if (!p) {
      p = this.load(name).finally(() => this.loading.delete(name));
      this.loading.set(name, p);
    }
    await p;
  }

  private async load(name: string): Promise<void> {
    const st: HostState = { last: null, lastOkAt: null, failedAt: null, failures: 0, checkedAt: null, pending: null, pendingPackages: [], running: null, waiting: null };
    try {
      const text = await this.deps.store.load(name);
      if (text !== undefined) {
        const f = UpdatesFile.safeParse(JSON.parse(text));
        if (!f.success) this.deps.log.warn({ host: name, issues: f.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).slice(0, 5) }, 'updates.json is invalid; starting afresh');
        else
          Object.assign(st, {
            last: f.data.last,
            lastOkAt: ms(f.data.lastOkAt),
            failedAt: ms(f.data.failedAt),
            failures: f.data.failures,
            checkedAt: ms(f.data.checkedAt),
            pending: f.data.pending,
            pendingPackages: f.data.pendingPackages,
          });
      }
    } catch (err) {
      this.deps.log.warn({ host: name, err: (err as Error).message }, 'cannot read updates.json; starting afresh');
    }
    if (!this.states.has(name)) {
      this.states.set(name, st);
      this.publish(name);
    }
  }

  private async save(name: string): Promise<void> {
    const st = this.states.get(name);
    if (!st || !this.deps.hosts().some((h) => h.name === name)) return;
    const plan = hostPlan(this.deps.settings(), name);
    const file: UpdatesFile = {
      version: 1,
      last: st.last,
      lastOkAt: iso(st.lastOkAt),
      failedAt: iso(st.failedAt),
      checkedAt: iso(st.checkedAt),
      pending: st.pending,
      pendingPackages: st.pendingPackages,
      failures: st.failures,
      nextDue: plan.enabled ? iso(nextDue(st, plan, this.deps.settings(), Date.now())) : null,
    };
    try {
      await this.deps.store.save(name, JSON.stringify(file, null, 2) + '\n');
    } catch (err) {
      this.deps.log.warn({ host: name, err: (err as Error).message }, 'cannot save updates.json');
    }
  }

  private hostUpdates(name: string): HostUpdates {
    const cfg = this.deps.settings();
    const plan = hostPlan(cfg, name);
    const st = this.states.get(name)!;
    return {
      name,
      enabled: plan.enabled,
      window: plan.window,
      intervalHours: plan.intervalHours,
      last: st.last,
      lastOkAt: iso(st.lastOkAt),
      checkedAt: iso(st.checkedAt),
      pending: st.pending,
      pendingPackages: st.pendingPackages,
      failures: st.failures,
      nextDue: plan.enabled ? iso(nextDue(st, plan, cfg, Date.now())) : null,
      running: st.running,
      waiting: st.waiting,
    };
  }

  private publish(name: string): void {
    if (!this.states.has(name)) return;
    this.deps.changed(name, this.hostUpdates(name), this.summary(name));
  }

  private setRunning(name: string, running: HostState['running']): void {
    const st = this.states.get(name);
    if (!st || st.running === running) return;
    st.running = running;
    if (running) st.waiting = null;
    this.publish(name);
  }

  private setWaiting(name: string, waiting: string | null): void {
    const st = this.states.get(name);
    if (!st || st.waiting === waiting) return;
    st.waiting = waiting;
    this.publish(name);
  }

  /** Why this host cannot be worked on right now (null: it can). */
  private unreachable(h: UpdateTarget): string | null {
    if (!this.deps.connected(h.name)) return `${h.name} is not connected`;
    if (h.role === 'offline' && !this.deps.connected('router')) return 'the router is not connected (offline hosts update through its relay)';
    return null;
  }

  private async evaluate(): Promise<void> {
    const cfg = this.deps.settings();
    const hosts = this.deps.hosts();
    const known = new Set(hosts.map((h) => h.name));
    for (const name of this.states.keys()) if (!known.has(name) && !this.active.has(name)) this.states.delete(name);
    for (const name of this.onlineSince.keys()) if (!known.has(name)) this.onlineSince.delete(name);
    await Promise.all(hosts.map((h) => this.ensureLoaded(h.name)));
    const now = Date.now();

    // requests first, in the order they came
    for (let i = 0; i < this.queue.length; ) {
      const r = this.queue[i]!;
      const h = hosts.find((x) => x.name === r.name);
      const blocked = h ? this.unreachable(h) : `no host named ${r.name}`;
      if (blocked || this.stopped) {
        this.queue.splice(i, 1);
        this.setRunning(r.name, null);
        r.done({ name: r.name, result: 'skipped', reason: blocked ?? 'towerd is stopping', pending: this.states.get(r.name)?.pending ?? null, upgraded: [], unreachable: blocked !== null });
        continue;
      }
      if (this.active.has(r.name) || this.active.size >= cfg.maxConcurrent) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.launch(h!, r.kind, 'manual', r.force).then(r.done, () => undefined);
    }
    if (this.stopped) return;

    // then the schedule: due hosts, the longest overdue first
    const due = hosts
      .map((h) => ({ h, plan: hostPlan(cfg, h.name), st: this.states.get(h.name)! }))
      .filter(({ h, plan, st }) => {
        const isDue = plan.enabled && !this.active.has(h.name) && !this.queue.some((q) => q.name === h.name) && dueBase(st, plan, cfg) <= now && inWindow(now, plan.window);
        if (!isDue && !this.active.has(h.name)) this.setWaiting(h.name, null);
        return isDue;
      })
      .sort((a, b) => dueBase(a.st, a.plan, cfg) - dueBase(b.st, b.plan, cfg));
    for (const { h, st } of due) {
      let why = this.unreachable(h);
      const since = this.onlineSince.get(h.name);
      if (!why && (since === undefined || now - since < cfg.settleMs)) why = `${h.name} has not been connected for ${Math.round(cfg.settleMs / 1000)} s yet`;
      const apps = this.deps.runningApps(h.name);
      // with apps running nothing is upgraded; the index is checked at most hourly meanwhile, to keep the count fresh
      if (!why && apps > 0 && st.checkedAt !== null && now - st.checkedAt < Math.min(HOUR, hostPlan(cfg, h.name).intervalHours * HOUR))
        why = `${plural(apps, 'app')} running on ${h.name}`;
      if (!why && this.active.size >= cfg.maxConcurrent) why = `queued: at most ${plural(cfg.maxConcurrent, 'host')} at a time`;
      this.setWaiting(h.name, why);
      if (why) continue;
      void this.launch(h, 'run', 'schedule', false).catch(() => undefined);
    }
  }

  private launch(h: UpdateTarget, kind: UpdateKind, trigger: 'schedule' | 'manual', force: boolean): Promise<UpdateResult> {
    const p = this.runOne(h, kind, trigger, force).finally(() => {
      this.active.delete(h.name);
      this.poke();
    });
    this.active.set(h.name, p);
    return p;
  }

  private async runOne(h: UpdateTarget, kind: UpdateKind, trigger: 'schedule' | 'manual', force: boolean): Promise<UpdateResult> {
    const { name } = h;
    const cfg = this.deps.settings();
    const t0 = Date.now();
    this.setRunning(name, 'checking');
    const st = this.states.get(name)!;
    let result: z.infer<typeof UpdateOutcome> = 'ok';
    let reason: string | null = null;
    let upgraded: PackageUpgrade[] = [];
    this.deps.log.info({ host: name, kind, trigger }, kind === 'check' ? 'update check' : 'update run');
    try {
      const session = await this.deps.runner.open(name);
      try {
        const pending = await session.check();
        st.checkedAt = Date.now();
        st.pending = pending.length;
        st.pendingPackages = pending;
        this.publish(name);
        const upgrade = kind === 'run' && (cfg.upgrade || trigger === 'manual') && pending.length > 0;
        if (upgrade) {
          // right before apk upgrade starts: never while the host runs an app (unless forced by hand)
          const apps = this.deps.runningApps(name);
          if (apps > 0 && !force) {
            result = 'skipped';
            reason = `${plural(apps, 'app')} running on ${name}`;
          } else {
            this.setRunning(name, 'upgrading');
            const r = await session.upgrade();
            upgraded = r.upgraded;
            st.pending = r.pending.length;
            st.pendingPackages = r.pending;
            st.checkedAt = Date.now();
          }
        }
      } finally {
        await session.close().catch((err: unknown) => this.deps.log.warn({ host: name, err: (err as Error).message }, 'update session close'));
      }
    } catch (err) {
      result = 'failed';
      reason = (err as Error).message;
    }
    const end = Date.now();
    if (kind === 'run' && result === 'ok') {
      st.lastOkAt = end;
      st.failures = 0;
      st.failedAt = null;
    } else if (kind === 'run' && result === 'failed') {
      st.failures++;
      st.failedAt = end;
    }
    st.last = { at: new Date(end).toISOString(), kind, trigger, result, reason, upgraded, pending: st.pending, durationMs: end - t0 };
    st.running = null;
    st.waiting = null;
    const fields = { host: name, kind, trigger, result, reason: reason ?? undefined, upgraded: upgraded.map((u) => `${u.name} ${u.from} -> ${u.to}`), pending: st.pending, failures: st.failures };
    if (result === 'failed') this.deps.log.warn(fields, 'update failed');
    else this.deps.log.info(fields, result === 'skipped' ? 'update skipped' : 'update finished');
    await this.save(name);
    this.publish(name);
    return { name, result, reason, pending: st.pending, upgraded, unreachable: false };
  }
}
