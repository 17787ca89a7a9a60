// The update scheduler with fake time and a fake apk: windows, due times, the concurrency cap, apps, persistence,
// backoff. The lab test (test/integration/updates.test.ts) runs the real thing.
process.env.TZ = 'UTC';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HostUpdates, PackageUpgrade, UpdateSummary } from '../../protocol/index.js';
import { Settings } from '../../daemon/core/settings.js';
import { parseUpgrades } from '../../daemon/features/updates/apk-output.js';
import { UpdateScheduler, type UpdateTarget } from '../../daemon/features/updates/scheduler.js';
import { fileStore, type UpdateStore } from '../../daemon/features/updates/store.js';
import { dueBase, hostPlan, inWindow, nextInWindow, type UpdateSettings } from '../../daemon/features/updates/window.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0); // a Monday, 12:00 UTC
const at = (hhmm: string, day = 0) => Date.UTC(2026, 10, 23 + day, Number(hhmm.slice(0, 2)), Number(hhmm.slice(3, 5)));
const up = (name: string, from = '1.0-r0', to = '1.1-r0'): PackageUpgrade => ({ name, from, to });

function cfg(over: Record<string, unknown> = {}): UpdateSettings {
  return Settings.parse({ packages: { updates: { settleMs: 0, ...over } } }).packages.updates;
}

describe('windows and due times', () => {
  it('a window is a daily local time range, also across midnight', () => {
    expect(inWindow(at('03:00'), '03:00-05:00')).toBe(true);
    expect(inWindow(at('04:59'), '03:00-05:00')).toBe(true);
    expect(inWindow(at('05:00'), '03:00-05:00')).toBe(false);
    expect(inWindow(at('23:30'), '22:00-02:00')).toBe(true);
    expect(inWindow(at('01:59'), '22:00-02:00')).toBe(true);
    expect(inWindow(at('12:00'), '22:00-02:00')).toBe(false);
    expect(inWindow(at('12:00'), null)).toBe(true);
    expect(inWindow(at('23:59'), '00:00-24:00')).toBe(true);
  });

  it('the next instant inside a window is today or tomorrow at its start', () => {
    expect(nextInWindow(at('12:00'), '03:00-05:00')).toBe(at('03:00', 1));
    expect(nextInWindow(at('02:00'), '03:00-05:00')).toBe(at('03:00'));
    expect(nextInWindow(at('04:00'), '03:00-05:00')).toBe(at('04:00'));
    expect(nextInWindow(at('12:00'), '22:00-02:00')).toBe(at('22:00'));
    expect(nextInWindow(at('12:00'), null)).toBe(at('12:00'));
  });

  it('a daily run late in its window does not drift out of it; failures back off exponentially up to the cap', () => {
    const c = cfg({ window: '03:00-05:00' });
    const plan = hostPlan(c, 'a');
    // ran at 04:55: next time may start at 02:55 + window → 03:00 the next day, not 04:55 + 24 h = two days later
    expect(nextInWindow(dueBase({ lastOkAt: at('04:55'), failedAt: null, failures: 0 }, plan, c), plan.window)).toBe(at('03:00', 1));
    const none = hostPlan(cfg(), 'a');
    expect(dueBase({ lastOkAt: T0, failedAt: null, failures: 0 }, none, cfg())).toBe(T0 + 24 * H);
    expect(dueBase({ lastOkAt: null, failedAt: null, failures: 0 }, none, cfg())).toBe(-Infinity);
    const waits = [1, 2, 3, 4, 5, 6, 10].map((f) => dueBase({ lastOkAt: null, failedAt: T0, failures: f }, none, cfg()) - T0);
    expect(waits).toEqual([0.25 * H, 0.5 * H, 1 * H, 2 * H, 4 * H, 6 * H, 6 * H]);
  });

  it('per-host overrides replace the defaults', () => {
    const c = cfg({ window: '03:00-05:00', hosts: { vault: { enabled: false }, web: { window: null, intervalHours: 6 } } });
    expect(hostPlan(c, 'vault')).toEqual({ enabled: false, intervalHours: 24, window: '03:00-05:00' });
    expect(hostPlan(c, 'web')).toEqual({ enabled: true, intervalHours: 6, window: null });
    expect(hostPlan(c, 'other')).toEqual({ enabled: true, intervalHours: 24, window: '03:00-05:00' });
    expect(() => cfg({ window: '3:00-5:00' })).toThrow();
    expect(() => cfg({ window: '03:00-03:00' })).toThrow();
    expect(() => cfg({ hosts: { web: { every: 3 } } })).toThrow();
  });
});

describe("apk's output", () => {
  it('counts the Upgrading lines of apk upgrade (--simulate or not)', () => {
    const out = [
      'fetch http://dl-cdn.alpinelinux.org/alpine/v3.19/main/x86_64/APKINDEX.tar.gz',
      '( 1/11) Upgrading musl (1.2.4_git20230717-r4 -> 1.2.4_git20230717-r5)',
      '( 2/11) Installing libfoo (2.0-r0)',
      '(11/11) Upgrading busybox-binsh (1.36.1-r15 -> 1.36.1-r19)',
      'OK: 10 MiB in 25 packages',
    ].join('\n');
    expect(parseUpgrades(out)).toEqual([up('musl', '1.2.4_git20230717-r4', '1.2.4_git20230717-r5'), up('busybox-binsh', '1.36.1-r15', '1.36.1-r19')]);
    expect(parseUpgrades('OK: 121 B in 2 packages\n')).toEqual([]);
  });

  it('refuses an Upgrading line whose name or version is not apk-shaped', () => {
    expect(() => parseUpgrades('(1/1) Upgrading -rf (1 -> 2)')).toThrow(/unexpected apk output/);
    expect(() => parseUpgrades('(1/1) Upgrading x ($(id) -> 2)')).toThrow(/unexpected apk output/);
    expect(() => parseUpgrades('x\n'.repeat(60_000))).toThrow(/more than/);
  });
});

/** A fake apk per host: what check returns, whether upgrade fails, and a gate to hold runs open. */
class FakeApk {
  pending = new Map<string, PackageUpgrade[]>();
  failing = new Set<string>();
  calls: string[] = [];
  open = new Set<string>();
  maxOpen = 0;
  gate: Promise<void> | undefined;
  onCheck: ((name: string) => void) | undefined;

  openSession(name: string) {
    return Promise.resolve(this.session(name));
  }

  session(name: string) {
    this.open.add(name);
    this.maxOpen = Math.max(this.maxOpen, this.open.size);
    return {
      check: async () => {
        this.calls.push(`check ${name}`);
        if (this.gate) await this.gate;
        this.onCheck?.(name);
        if (this.failing.has(name)) throw new Error('apk exited with 1: ERROR: unable to select packages');
        return this.pending.get(name) ?? [];
      },
      upgrade: () => {
        this.calls.push(`upgrade ${name}`);
        const upgraded = this.pending.get(name) ?? [];
        this.pending.set(name, []);
        return Promise.resolve({ upgraded, pending: [] });
      },
      close: () => {
        this.open.delete(name);
        return Promise.resolve();
      },
    };
  }
}

function memoryStore(): UpdateStore & { files: Map<string, string> } {
  const files = new Map<string, string>();
  return { files, load: (n) => Promise.resolve(files.get(n)), save: (n, t) => Promise.resolve(void files.set(n, t)) };
}

interface Harness {
  s: UpdateScheduler;
  apk: FakeApk;
  store: ReturnType<typeof memoryStore>;
  apps: Map<string, number>;
  connected: Set<string>;
  events: { name: string; updates: HostUpdates; summary: UpdateSummary | undefined }[];
  settings: { current: UpdateSettings };
  list(name: string): Promise<HostUpdates>;
}

function harness(hosts: UpdateTarget[], over: Record<string, unknown> = {}, store = memoryStore(), apk = new FakeApk()): Harness {
  const apps = new Map<string, number>();
  const connected = new Set(hosts.map((h) => h.name));
  const events: Harness['events'] = [];
  const settings = { current: cfg(over) };
  const s = new UpdateScheduler({
    hosts: () => hosts,
    connected: (n) => connected.has(n),
    runningApps: (n) => apps.get(n) ?? 0,
    settings: () => settings.current,
    runner: { open: (n) => apk.openSession(n) },
    store,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined },
    changed: (name, updates, summary) => events.push({ name, updates, summary }),
    tickMs: 30_000,
  });
  for (const h of hosts) s.noteState(h.name, true);
  return { s, apk, store, apps, connected, events, settings, list: async (n) => (await s.list([n]))[0]! };
}

/** let timers due now and every promise chain they start run */
const flush = () => vi.advanceTimersByTimeAsync(1);
/** a request's answer: the scheduler is woken by (fake) timers */
async function answer<T>(p: Promise<T>): Promise<T> {
  await vi.advanceTimersByTimeAsync(50);
  return p;
}

describe('the scheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('updates a due host once, then not again before its interval', async () => {
    const t = harness([{ name: 'web', role: 'online' }]);
    t.apk.pending.set('web', [up('hello')]);
    t.s.start();
    await flush();
    expect(t.apk.calls).toEqual(['check web', 'upgrade web']);
    const u = await t.list('web');
    expect(u.last).toMatchObject({ result: 'ok', kind: 'run', trigger: 'schedule', upgraded: [up('hello')], pending: 0 });
    expect(u.pending).toBe(0);
    expect(Date.parse(u.nextDue!)).toBe(Date.parse(u.last!.at) + 24 * H);
    await vi.advanceTimersByTimeAsync(23 * H);
    expect(t.apk.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1 * H);
    expect(t.apk.calls).toEqual(['check web', 'upgrade web', 'check web']); // nothing pending: no apk upgrade
    t.s.stop();
  });

  it('waits for the window and for a host that has been connected for settleMs', async () => {
    const t = harness([{ name: 'web', role: 'online' }], { window: '03:00-05:00', settleMs: 120_000 });
    t.s.start();
    await flush();
    expect(t.apk.calls).toEqual([]);
    expect((await t.list('web')).nextDue).toBe(new Date(at('03:00', 1)).toISOString());
    t.s.noteState('web', false);
    await vi.advanceTimersByTimeAsync(at('03:00', 1) - Date.now());
    expect(t.apk.calls).toEqual([]); // not connected
    t.s.noteState('web', true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.apk.calls).toEqual([]);
    expect((await t.list('web')).waiting).toMatch(/has not been connected for 120 s/);
    await vi.advanceTimersByTimeAsync(90_000);
    expect(t.apk.calls).toEqual(['check web']);
    t.s.stop();
  });

  it('never runs more than maxConcurrent hosts at a time', async () => {
    const hosts = ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, role: 'online' as const }));
    const t = harness(hosts, { maxConcurrent: 2 });
    let open!: () => void;
    t.apk.gate = new Promise((r) => (open = r));
    t.s.start();
    await flush();
    expect(t.apk.open.size).toBe(2);
    const waiting = (await t.s.list()).map((u) => u.waiting ?? u.running);
    expect(waiting.filter((w) => w === 'checking')).toHaveLength(2);
    expect(waiting.filter((w) => w === 'queued: at most 2 hosts at a time')).toHaveLength(3);
    open();
    t.apk.gate = undefined;
    await vi.advanceTimersByTimeAsync(100);
    expect(t.apk.calls.filter((c) => c.startsWith('check'))).toHaveLength(5);
    expect(t.apk.maxOpen).toBe(2);
    // hand-started runs share the cap
    t.apk.maxOpen = 0;
    t.apk.gate = new Promise((r) => (open = r));
    const all = t.s.request(['a', 'b', 'c', 'd', 'e'], 'check');
    await flush();
    expect(t.apk.open.size).toBe(2);
    open();
    t.apk.gate = undefined;
    const results = await answer(all);
    expect(results.map((r) => r.result)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(t.apk.maxOpen).toBe(2);
    t.s.stop();
  });

  it('does not upgrade a host running an app: checks, skips with the reason, and upgrades once the apps are gone', async () => {
    const t = harness([{ name: 'office', role: 'online' }]);
    t.apk.pending.set('office', [up('hello')]);
    t.apps.set('office', 1);
    t.s.start();
    await flush();
    expect(t.apk.calls).toEqual(['check office']);
    let u = await t.list('office');
    expect(u.last).toMatchObject({ result: 'skipped', reason: '1 app running on office', pending: 1 });
    expect(u.pending).toBe(1);
    expect(t.events.at(-1)!.summary).toMatchObject({ pending: 1, last: 'skipped', reason: '1 app running on office', running: false });
    // still due, but no new check while the apps run (at most hourly)
    await vi.advanceTimersByTimeAsync(30 * 60_000);
    expect(t.apk.calls).toEqual(['check office']);
    expect((await t.list('office')).waiting).toBe('1 app running on office');
    t.apps.set('office', 0);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(t.apk.calls).toEqual(['check office', 'check office', 'upgrade office']);
    u = await t.list('office');
    expect(u.last).toMatchObject({ result: 'ok', upgraded: [up('hello')] });
    t.s.stop();
  });

  it('checks the apps again right before apk upgrade starts', async () => {
    const t = harness([{ name: 'office', role: 'online' }]);
    t.apk.pending.set('office', [up('hello')]);
    t.apk.onCheck = () => t.apps.set('office', 2); // an app starts while the index is refreshed
    t.s.start();
    await flush();
    expect(t.apk.calls).toEqual(['check office']);
    expect((await t.list('office')).last).toMatchObject({ result: 'skipped', reason: '2 apps running on office' });
    // by hand: skipped too, unless forced
    const [r] = await answer(t.s.request(['office'], 'run'));
    expect(r).toMatchObject({ result: 'skipped', reason: '2 apps running on office', pending: 1, unreachable: false });
    const [f] = await answer(t.s.request(['office'], 'run', true));
    expect(f).toMatchObject({ result: 'ok', upgraded: [up('hello')], pending: 0 });
    t.s.stop();
  });

  it('an offline host needs the router; a host that is not connected is reported by hand-started runs', async () => {
    const t = harness([
      { name: 'router', role: 'router' },
      { name: 'vault', role: 'offline' },
    ]);
    t.connected.delete('router');
    t.s.noteState('router', false);
    t.s.start();
    await flush();
    expect(t.apk.calls).toEqual([]);
    expect((await t.list('vault')).waiting).toMatch(/router is not connected/);
    expect(await answer(t.s.request(['vault'], 'check'))).toEqual([
      { name: 'vault', result: 'skipped', reason: 'the router is not connected (offline hosts update through its relay)', pending: null, upgraded: [], unreachable: true },
    ]);
    t.connected.add('router');
    t.s.noteState('router', true);
    await flush();
    expect(t.apk.calls.sort()).toEqual(['check router', 'check vault']);
    t.s.stop();
  });

  it('backs off after failures instead of retrying in a storm, and a success resets it', async () => {
    const t = harness([{ name: 'web', role: 'online' }]);
    t.apk.failing.add('web');
    t.s.start();
    await flush();
    let u = await t.list('web');
    expect(u.last).toMatchObject({ result: 'failed', reason: 'apk exited with 1: ERROR: unable to select packages' });
    expect(u.failures).toBe(1);
    expect(t.events.at(-1)!.summary).toMatchObject({ last: 'failed' });
    // two hours: tries at +15 min, +45 min (30 more), +1 h 45 min (1 h more)
    await vi.advanceTimersByTimeAsync(2 * H);
    expect(t.apk.calls).toHaveLength(4);
    u = await t.list('web');
    expect(u.failures).toBe(4);
    expect(Date.parse(u.nextDue!) - Date.parse(u.last!.at)).toBe(2 * H);
    t.apk.failing.delete('web');
    await vi.advanceTimersByTimeAsync(2 * H);
    u = await t.list('web');
    expect(u.failures).toBe(0);
    expect(u.last!.result).toBe('ok');
    t.s.stop();
  });

  it('keeps its state across restarts: a host that just ran is not run again', async () => {
    const store = memoryStore();
    const a = harness([{ name: 'web', role: 'online' }], {}, store);
    a.apk.pending.set('web', [up('hello')]);
    a.s.start();
    await flush();
    a.s.stop();
    const saved = JSON.parse(store.files.get('web')!) as Record<string, unknown>;
    expect(saved).toMatchObject({ version: 1, pending: 0, failures: 0, lastOkAt: new Date(T0).toISOString(), last: { result: 'ok' } });
    expect(saved.nextDue).toBe(new Date(T0 + 24 * H).toISOString());

    await vi.advanceTimersByTimeAsync(H);
    const b = harness([{ name: 'web', role: 'online' }], {}, store);
    b.s.start();
    await flush();
    expect(b.apk.calls).toEqual([]);
    const u = await b.list('web');
    expect(u.last).toMatchObject({ result: 'ok', upgraded: [up('hello')] });
    expect(b.events.find((e) => e.name === 'web')!.summary).toMatchObject({ last: 'ok', pending: 0 });
    b.s.stop();
  });

  it('starts afresh from a damaged state file, and a disabled host is never run automatically', async () => {
    const store = memoryStore();
    store.files.set('web', '{"version":1,"failures":-3}');
    store.files.set('vault', 'not json');
    const t = harness(
      [
        { name: 'web', role: 'online' },
        { name: 'vault', role: 'online' },
      ],
      { hosts: { vault: { enabled: false } } },
      store,
    );
    t.s.start();
    await flush();
    expect(t.apk.calls).toEqual(['check web']);
    expect((await t.list('vault')).nextDue).toBeNull();
    expect(t.s.summary('vault')).toBeUndefined();
    t.s.stop();
  });

  it('forgets a host removed while it updates, without writing its state back', async () => {
    const hosts: UpdateTarget[] = [{ name: 'web', role: 'online' }];
    const t = harness(hosts);
    let open!: () => void;
    t.apk.gate = new Promise((r) => (open = r));
    t.s.start();
    await flush();
    expect(t.apk.open.has('web')).toBe(true);
    hosts.pop();
    open();
    await vi.advanceTimersByTimeAsync(100);
    expect(t.store.files.has('web')).toBe(false);
    expect(await t.s.list()).toEqual([]);
    t.s.stop();
  });

  it('updates.json is written atomically, 0600, in the host folder', async () => {
    vi.useRealTimers();
    const dir = mkdtempSync(join(tmpdir(), 'tower-updates-'));
    try {
      const store = fileStore(dir);
      await expect(store.save('web', '{"a":1}\n')).rejects.toThrow(/ENOENT/); // no folder: the host is gone
      mkdirSync(join(dir, 'web'), { mode: 0o700 });
      await store.save('web', '{"a":1}\n');
      expect(readFileSync(join(dir, 'web', 'updates.json'), 'utf8')).toBe('{"a":1}\n');
      expect(statSync(join(dir, 'web', 'updates.json')).mode & 0o777).toBe(0o600);
      expect(await store.load('none')).toBeUndefined();
      expect(readdirSync(join(dir, 'web'))).toEqual(['updates.json']); // no temporary file left behind
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
