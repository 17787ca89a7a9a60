import type { Role, UpdateOutcome, UpdateSummary } from '../../../protocol/host.js';
import type { PackageUpgrade, UpdateRun, HostUpdates, UpdateKind, UpdateResult } from '../../../protocol/updates.js';
import type { Logger } from '../../core/log.js';
import type { UpdateRunner } from './runner.js';
import type { UpdateStore } from './store.js';
import { UpdatesFile } from './store.js';
import { HOUR, dueBase, hostPlan, inWindow, nextDue, type DueFacts, type UpdateSettings } from './window.js';

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
    let result: UpdateOutcome = 'ok';
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
