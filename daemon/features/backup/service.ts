import { posix } from 'node:path';
import type { BackupProgress, BackupResult, BackupRun, BackupSetInfo, BackupSummary, Snapshot, VerifyRun } from '../../../protocol/index.js';
import type { Core } from '../../core/feature.js';
import { TowerError } from '../../core/errors.js';
import { backupDue, defaultRestoreDir, isStale, verifyDue, type BackupSettings, type SetConfig } from './plan.js';
import { openPipe, prepareFolder } from './pipe.js';
import { argvFor, backupArgs, connectionsFor, lastWords, runRestic, type Action, type Outcome } from './restic.js';
import { BackupFile, emptyState, type BackupStore, type SetState } from './store.js';

type Activity = NonNullable<BackupSetInfo['running']>;
type Kind = 'backup' | 'verify';

const iso = (t: number | null) => (t === null || !Number.isFinite(t) ? null : new Date(t).toISOString());
const keyOf = (host: string, set: string) => `${host}/${set}`;

/**
 * Backup sets: restic on the source host, its repository on the storage host through towerd (pipe.ts). Runs only
 * while both hosts are connected and have been for settleMs, at most maxConcurrent at a time, with exponential
 * backoff after failures, never two of one set at once. State per host in hosts/HOST/backup.json.
 */
export class BackupService {
  private readonly states = new Map<string, Map<string, SetState>>();
  private readonly loading = new Map<string, Promise<void>>();
  private readonly active = new Map<string, { kind: Activity; done: Promise<unknown> }>();
  private readonly progress = new Map<string, BackupProgress>();
  private readonly waiting = new Map<string, string>();
  private readonly staleSeen = new Map<string, boolean>();
  private readonly onlineSince = new Map<string, number>();
  private readonly slotWaiters: (() => void)[] = [];
  private readonly aborts = new Set<AbortController>();
  private lastProgressAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private ticking = false;

  constructor(
    private readonly core: Core,
    private readonly store: BackupStore,
    private readonly changed: (host: string, set: BackupSetInfo) => void,
    private readonly tickMs = 5000,
  ) {}

  cfg(): BackupSettings {
    return this.core.settings().backup;
  }

  sets(host?: string): SetConfig[] {
    return this.cfg().sets.filter((s) => (host === undefined || s.host === host) && this.core.registry.get(s.host));
  }

  start(): void {
    this.stopped = false;
    for (const h of this.core.registry.list()) if (this.core.supervisor?.get(h.name)?.connection) this.onlineSince.set(h.name, Date.now());
    this.timer = setInterval(() => this.poke(), this.tickMs);
    this.timer.unref();
    this.poke();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const a of this.aborts) a.abort();
    await Promise.allSettled([...this.active.values()].map((a) => a.done));
  }

  noteState(name: string, online: boolean): void {
    if (online) {
      if (!this.onlineSince.has(name)) this.onlineSince.set(name, Date.now());
    } else this.onlineSince.delete(name);
    this.poke();
  }

  poke(): void {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    void this.evaluate()
      .catch((err: unknown) => this.core.log.warn({ err: (err as Error).message }, 'backup scheduler'))
      .finally(() => (this.ticking = false));
  }

  // ---- state ----

  private async ensureLoaded(host: string): Promise<Map<string, SetState>> {
    const m = this.states.get(host);
    if (m) return m;
    let p = this.loading.get(host);
    if (!p) {
      p = this.load(host).finally(() => this.loading.delete(host));
      this.loading.set(host, p);
    }
    await p;
    return this.states.get(host)!;
  }

  private async load(host: string): Promise<void> {
    const m = new Map<string, SetState>();
    try {
      const text = await this.store.load(host);
      if (text !== undefined) {
        const f = BackupFile.safeParse(JSON.parse(text));
        if (!f.success) this.core.log.warn({ host, issues: f.error.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`) }, 'backup.json is invalid; starting afresh');
        else for (const [k, v] of Object.entries(f.data.sets)) m.set(k, v);
      }
    } catch (err) {
      this.core.log.warn({ host, err: (err as Error).message }, 'cannot read backup.json; starting afresh');
    }
    if (!this.states.has(host)) this.states.set(host, m);
  }

  private state(host: string, set: string): SetState {
    const m = this.states.get(host)!;
    let st = m.get(set);
    if (!st) m.set(set, (st = emptyState()));
    return st;
  }

  private async save(host: string): Promise<void> {
    const m = this.states.get(host);
    if (!m) return;
    const file: BackupFile = { version: 1, sets: Object.fromEntries(m) };
    await this.store.save(host, JSON.stringify(file, null, 2) + '\n').catch((err: unknown) => this.core.log.warn({ host, err: (err as Error).message }, 'cannot save backup.json'));
  }

  info(set: SetConfig, now = Date.now()): BackupSetInfo {
    const st = this.states.get(set.host)?.get(set.name) ?? emptyState();
    const k = keyOf(set.host, set.name);
    const act = this.active.get(k);
    return {
      host: set.host,
      set: set.name,
      paths: set.paths,
      excludes: set.excludes,
      storage: { host: set.storage.host, folder: set.storage.folder },
      everyHours: set.everyHours,
      maxAgeHours: set.maxAgeHours,
      lastOkAt: st.lastOkAt,
      last: st.last,
      snapshots: st.snapshots,
      failures: st.failures,
      nextDue: iso(Math.max(backupDue(st, set, this.cfg()), now)),
      stale: isStale(st, set, now),
      lastVerify: st.lastVerify,
      nextVerify: iso(verifyDue(st, this.cfg())),
      running: act?.kind ?? null,
      progress: this.progress.get(k) ?? null,
      waiting: this.waiting.get(k) ?? null,
    };
  }

  async list(hosts?: string[]): Promise<BackupSetInfo[]> {
    const sets = this.sets().filter((s) => !hosts || hosts.includes(s.host));
    await Promise.all([...new Set(sets.map((s) => s.host))].map((h) => this.ensureLoaded(h)));
    return sets.map((s) => this.info(s));
  }

  summary(host: string): BackupSummary | undefined {
    const sets = this.sets(host);
    if (!sets.length) return undefined;
    const now = Date.now();
    const m = this.states.get(host);
    const oks = sets.map((s) => m?.get(s.name)?.lastOkAt ?? null);
    const oldest = oks.some((o) => o === null) ? null : oks.sort()[0]!;
    return {
      sets: sets.length,
      lastOkAt: oldest,
      stale: sets.some((s) => isStale(m?.get(s.name) ?? emptyState(), s, now)),
      running: sets.some((s) => this.active.has(keyOf(host, s.name))),
    };
  }

  private publish(set: SetConfig): void {
    if (this.states.has(set.host)) this.changed(set.host, this.info(set));
  }

  // ---- scheduling ----

  /** Why this set cannot run now (null: it can). */
  private blocked(set: SetConfig, now: number): string | null {
    const cfg = this.cfg();
    for (const h of [set.host, set.storage.host]) {
      if (!this.core.registry.get(h)) return `no host named ${h}`;
      if (!this.core.supervisor?.get(h)?.connection) return `${h} is not connected`;
      const since = this.onlineSince.get(h);
      if (since === undefined || now - since < cfg.settleMs) return `${h} has not been connected for ${Math.round(cfg.settleMs / 1000)} s yet`;
    }
    return null;
  }

  private setWaiting(set: SetConfig, why: string | null): void {
    const k = keyOf(set.host, set.name);
    if ((this.waiting.get(k) ?? null) === why) return;
    if (why === null) this.waiting.delete(k);
    else this.waiting.set(k, why);
    this.publish(set);
  }

  private async evaluate(): Promise<void> {
    const cfg = this.cfg();
    const sets = this.sets();
    await Promise.all([...new Set(sets.map((s) => s.host))].map((h) => this.ensureLoaded(h)));
    const now = Date.now();
    const due: { set: SetConfig; kind: Kind; at: number }[] = [];
    for (const set of sets) {
      const k = keyOf(set.host, set.name);
      const st = this.state(set.host, set.name);
      const stale = isStale(st, set, now);
      if (this.staleSeen.get(k) !== stale) {
        const first = !this.staleSeen.has(k);
        this.staleSeen.set(k, stale);
        if (!first) {
          this.publish(set);
          this.core.hostChanged(set.host);
        }
      }
      if (this.active.has(k)) continue;
      const b = backupDue(st, set, cfg);
      if (b <= now) due.push({ set, kind: 'backup', at: b });
      else {
        const v = verifyDue(st, cfg);
        if (v !== null && v <= now) due.push({ set, kind: 'verify', at: v });
        else this.setWaiting(set, null);
      }
    }
    due.sort((a, b) => a.at - b.at);
    for (const { set, kind } of due) {
      if (this.stopped) return;
      let why = this.blocked(set, now);
      if (!why && this.active.size >= cfg.maxConcurrent) why = `queued: at most ${cfg.maxConcurrent} at a time`;
      this.setWaiting(set, why);
      if (why) continue;
      void this.launch(set, kind, 'schedule').catch(() => undefined);
    }
  }

  /** Take one of maxConcurrent slots (requests wait for one; the schedule only starts when one is free). */
  private async slot(): Promise<void> {
    while (this.active.size >= this.cfg().maxConcurrent) await new Promise<void>((r) => this.slotWaiters.push(r));
  }

  private launch<T>(set: SetConfig, kind: Activity, trigger: 'schedule' | 'manual', work?: () => Promise<T>): Promise<T | BackupResult> {
    const k = keyOf(set.host, set.name);
    const p = (async () => {
      try {
        if (work) return await work();
        return kind === 'verify' ? await this.verifyOne(set, trigger) : await this.backupOne(set, trigger);
      } finally {
        this.active.delete(k);
        this.progress.delete(k);
        this.waiting.delete(k);
        this.publish(set);
        this.core.hostChanged(set.host);
        this.slotWaiters.shift()?.();
        this.poke();
      }
    })();
    this.active.set(k, { kind, done: p });
    this.waiting.delete(k);
    this.publish(set);
    this.core.hostChanged(set.host);
    return p;
  }

  /** Run `kind` on a set by request: after any run of the set in progress, in a free slot. */
  private async request<T>(set: SetConfig, kind: Activity, work?: () => Promise<T>): Promise<T | BackupResult> {
    await this.ensureLoaded(set.host);
    const k = keyOf(set.host, set.name);
    for (let i = 0; i < 1000; i++) {
      const a = this.active.get(k);
      if (a) {
        if (!work && a.kind === kind) return (await a.done) as BackupResult;
        await a.done.catch(() => undefined);
        continue;
      }
      await this.slot();
      if (this.active.has(k)) continue;
      const why = this.blocked(set, Number.POSITIVE_INFINITY);
      if (why && !work) return { host: set.host, set: set.name, result: 'skipped', reason: why, snapshotId: null, dataAdded: null };
      if (why) throw new TowerError('HostUnavailable', `${why}: ${set.host}’s backup needs both ${set.host} and ${set.storage.host} connected`);
      return this.launch(set, kind, 'manual', work);
    }
    throw new Error('backup request: too many retries');
  }

  private pick(hosts: string[] | undefined, name: string | undefined): SetConfig[] {
    const sets = this.sets().filter((s) => (!hosts || hosts.includes(s.host)) && (!name || s.name === name));
    if (hosts) for (const h of hosts) if (!sets.some((s) => s.host === h)) throw new TowerError('NoBackupSet', `${h} has no backup set${name ? ` named ${name}` : ''} (towerd.json backup.sets)`);
    return sets;
  }

  async run(hosts: string[] | undefined, name: string | undefined, kind: Kind): Promise<BackupResult[]> {
    return Promise.all(this.pick(hosts, name).map((s) => this.request<BackupResult>(s, kind)));
  }

  private one(host: string, name: string | undefined): SetConfig {
    const sets = this.pick([host], name);
    if (sets.length > 1) throw new TowerError('InvalidParams', `${host} has ${sets.length} backup sets (${sets.map((s) => s.name).join(', ')}): name one with --set`);
    return sets[0]!;
  }

  async snapshots(host: string, name: string | undefined): Promise<{ set: SetConfig; snapshots: Snapshot[] }> {
    const set = this.one(host, name);
    const out = (await this.request(set, 'snapshots', () => this.exec(set, { kind: 'snapshots' }))) as Outcome;
    if (out.code !== 0 || !out.snapshots) throw new TowerError('BackupFailed', `cannot list ${host}’s snapshots: ${lastWords(out.stderr, out.code)}`);
    return { set, snapshots: out.snapshots };
  }

  async restore(p: { host: string; set?: string | undefined; snapshot: string; to?: string | undefined; paths: string[]; inPlace: boolean }) {
    const set = this.one(p.host, p.set);
    if (p.inPlace && p.to) throw new TowerError('InvalidParams', 'either --to or --in-place, not both');
    let snapshot = p.snapshot;
    let target = p.to;
    if (!p.inPlace && !target) {
      const { snapshots } = await this.snapshots(p.host, set.name);
      const s = snapshot === 'latest' ? snapshots.at(-1) : snapshots.find((x) => x.id.startsWith(snapshot));
      if (!s) throw new TowerError('BackupFailed', snapshot === 'latest' ? `${p.host} has no snapshot yet (towerctl backup ${p.host} --run)` : `${p.host} has no snapshot ${snapshot} (towerctl backup ${p.host} --list)`);
      snapshot = s.id;
      target = defaultRestoreDir(s.shortId, s.time);
    }
    const action: Action = { kind: 'restore', snapshot, target: target ?? '/', inPlace: p.inPlace, includes: p.paths.map((x) => posix.normalize(x)) };
    const out = (await this.request(set, 'restore', () => this.exec(set, action))) as Outcome;
    const ok = out.code === 0;
    this.core.log[ok ? 'info' : 'warn']({ host: p.host, set: set.name, snapshot, target: out.target ?? target, code: out.code }, ok ? 'backup restored' : 'backup restore failed');
    return { host: p.host, set: set.name, snapshot: snapshot.slice(0, 64), target: out.target ?? target ?? '/', result: ok ? ('ok' as const) : ('failed' as const), reason: ok ? null : lastWords(out.stderr, out.code) };
  }

  // ---- runs ----

  /** One restic action on the set's source host, its repository reached through a fresh pipe to the storage host. */
  private async exec(set: SetConfig, action: Action): Promise<Outcome> {
    const cfg = this.cfg();
    const k = keyOf(set.host, set.name);
    const password = await this.store.key(set.host, set.name, action.kind === 'backup');
    if (!password) throw new TowerError('NoBackupKey', `${set.host}/${set.name} has no repository key on this thin client yet: run a backup first (towerctl backup ${set.host} --run)`);
    const root = await prepareFolder(this.core, set.storage.host, set.storage.folder, 30_000);
    const src = this.core.connected(set.host);
    const pipe = await openPipe(this.core, { source: set.host, storage: set.storage.host, root, maxConnections: connectionsFor(action), readyMs: 15_000 });
    const abort = new AbortController();
    this.aborts.add(abort);
    try {
      const argv = argvFor(action, { repo: `sftp:tower:${root}`, restic: cfg.restic, netcat: cfg.netcat, port: pipe.port });
      return await runRestic(src, argv, password, {
        timeoutMs: cfg.timeoutMs,
        signal: abort.signal,
        also: [this.core.connected(set.storage.host)],
        progress: (p) => {
          this.progress.set(k, p);
          const now = Date.now();
          if (now - (this.lastProgressAt.get(k) ?? 0) >= 1000) {
            this.lastProgressAt.set(k, now);
            this.publish(set);
          }
        },
      });
    } finally {
      this.aborts.delete(abort);
      const c = pipe.counts();
      this.core.log.debug({ host: set.host, set: set.name, storage: set.storage.host, action: action.kind, bytesUp: c.up, bytesDown: c.down, refused: c.refused, connections: c.connections }, 'backup pipe closed');
      await pipe.close();
    }
  }

  private async backupOne(set: SetConfig, trigger: 'schedule' | 'manual'): Promise<BackupResult> {
    const t0 = Date.now();
    const st = this.state(set.host, set.name);
    this.core.log.info({ host: set.host, set: set.name, storage: set.storage.host, trigger }, 'backup run');
    let run: BackupRun;
    try {
      const out = await this.exec(set, { kind: 'backup', name: set.host, homeOnly: set.paths.length === 0, initialized: st.firstOkAt !== null, args: backupArgs(set.paths, set.excludes) });
      const ok = (out.code === 0 || out.code === 3) && out.summary !== null;
      const s = out.summary;
      run = {
        at: new Date().toISOString(),
        trigger,
        result: ok ? 'ok' : 'failed',
        reason: ok ? (out.code === 3 ? 'some files could not be read' : null) : lastWords(out.stderr, out.code),
        snapshotId: s?.snapshot_id ?? null,
        dataAdded: s?.data_added ?? null,
        filesNew: s ? Math.trunc(s.files_new) : null,
        filesChanged: s ? Math.trunc(s.files_changed) : null,
        bytesProcessed: s?.total_bytes_processed ?? null,
        resticSeconds: s?.total_duration ?? null,
        durationMs: Date.now() - t0,
      };
      if (ok && out.snapshots) st.snapshots = out.snapshots.length;
    } catch (err) {
      run = { at: new Date().toISOString(), trigger, result: 'failed', reason: (err as Error).message.slice(0, 2000), snapshotId: null, dataAdded: null, filesNew: null, filesChanged: null, bytesProcessed: null, resticSeconds: null, durationMs: Date.now() - t0 };
    }
    st.last = run;
    if (run.result === 'ok') {
      st.lastOkAt = run.at;
      st.firstOkAt ??= run.at;
      st.failures = 0;
      st.failedAt = null;
      this.core.log.info({ host: set.host, set: set.name, snapshot: run.snapshotId, dataAdded: run.dataAdded, snapshots: st.snapshots, ms: run.durationMs }, 'backup finished');
    } else {
      st.failures++;
      st.failedAt = run.at;
      this.core.log.warn({ host: set.host, set: set.name, reason: run.reason, failures: st.failures }, 'backup failed');
    }
    await this.save(set.host);
    return { host: set.host, set: set.name, result: run.result, reason: run.reason, snapshotId: run.snapshotId, dataAdded: run.dataAdded };
  }

  private async verifyOne(set: SetConfig, trigger: 'schedule' | 'manual'): Promise<BackupResult> {
    const t0 = Date.now();
    const st = this.state(set.host, set.name);
    const percent = this.cfg().verifyReadPercent;
    let v: VerifyRun;
    try {
      const out = await this.exec(set, { kind: 'check', percent });
      v = { at: new Date().toISOString(), trigger, result: out.code === 0 ? 'ok' : 'failed', reason: out.code === 0 ? null : lastWords(out.stderr, out.code), readDataPercent: percent, durationMs: Date.now() - t0 };
    } catch (err) {
      v = { at: new Date().toISOString(), trigger, result: 'failed', reason: (err as Error).message.slice(0, 2000), readDataPercent: percent, durationMs: Date.now() - t0 };
    }
    st.lastVerify = v;
    st.verifyFailures = v.result === 'ok' ? 0 : st.verifyFailures + 1;
    this.core.log[v.result === 'ok' ? 'info' : 'warn']({ host: set.host, set: set.name, result: v.result, reason: v.reason ?? undefined }, 'backup verified');
    await this.save(set.host);
    return { host: set.host, set: set.name, result: v.result, reason: v.reason, snapshotId: null, dataAdded: null };
  }
}
