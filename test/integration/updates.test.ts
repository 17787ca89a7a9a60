// Automatic security updates for real: a newer package is published in the lab's Alpine repository; the offline
// host's pending count goes to 1, towerd's scheduler upgrades it through the package relay and the router, and
// status and `towerctl updates` show it. A host with a running app (stubbed through towerd's runningApps seam) is
// checked but not upgraded, with that reason.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TowerClient } from '../../client/rpc.js';
import type { HostUpdates, Status, UpdateResult } from '../../protocol/index.js';
import { ROOT, startDaemon, tempHome, towerctl, type RunningDaemon } from '../helpers/towerd.js';
import { ALPINE_CDN, resolveOnHost } from '../lab/alpine/dns.js';
import { installApkStandin } from '../lab/alpine/install.js';
import { buildRepo, createSigningKey, exportPublicKey, helloPackages } from '../lab/alpine/repo.js';
import { serveRepo, type RepoServer } from '../lab/alpine/serve.js';
import { labUp, type RunningLab } from '../lab/lab.js';

const root = process.getuid?.() === 0;
const APK_ROOT = '/var/tmp/alpine'; // each lab host's own tmpfs
const repoDir = mkdtempSync(join(tmpdir(), 'tower-upd-repo-'));
const keysDir = mkdtempSync(join(tmpdir(), 'tower-upd-keys-'));
const key = createSigningKey();

/** towerd as main.ts composes it, except that the apps running on each host come from ~/running-apps.json. */
const LAUNCHER = `
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
const dist = process.env.TOWERD_DIST;
const { Towerd } = await import(dist + '/towerd.js');
const { LogRing, createLogger } = await import(dist + '/core/log.js');
const { resolvePaths, defaultSocketPath } = await import(dist + '/shared/paths.js');
const runningApps = (host) => {
  try { return JSON.parse(readFileSync(join(process.env.HOME, 'running-apps.json'), 'utf8'))[host] ?? 0; } catch { return 0; }
};
const ring = new LogRing();
const log = createLogger('info', ring);
const d = new Towerd({ paths: resolvePaths(), socketPath: defaultSocketPath(), log, ring, runningApps });
process.once('SIGTERM', () => void d.stop('SIGTERM').then(() => process.exit(0)));
await d.start();
`;

let lab: RunningLab;
let d: RunningDaemon;
let server: RepoServer;

function settingsFile(updates: object): void {
  mkdirSync(join(lab.home, '.config', 'tower'), { recursive: true });
  writeFileSync(join(lab.home, '.config', 'tower', 'towerd.json'), JSON.stringify({ packages: { privilege: [], worldFile: `${APK_ROOT}/etc/apk/world`, updates } }));
}

/** A daily window that does not contain the present moment (local time, as towerd sees it). */
function windowNotNow(): string {
  const hhmm = (t: Date) => `${String(t.getHours()).padStart(2, '0')}:${String(t.getMinutes()).padStart(2, '0')}`;
  return `${hhmm(new Date(Date.now() + 3 * 3_600_000))}-${hhmm(new Date(Date.now() + 4 * 3_600_000))}`;
}

function startTowerd(home: string): Promise<RunningDaemon> {
  return startDaemon({ home, env: { TOWERD_DIST: join(ROOT, 'dist/daemon') }, spawnPrefix: lab.tcSpawnPrefix(), entry: ['--input-type=module', '-e', LAUNCHER] });
}

async function updates(): Promise<HostUpdates[]> {
  const r = await towerctl(d, ['updates', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { hosts: HostUpdates[] }).hosts;
}
const host = async (name: string) => (await updates()).find((u) => u.name === name)!;
const helloOn = async (name: string) => (await lab.execHost(name, ['sh', `${APK_ROOT}/usr/bin/hello`])).stdout.trim();

async function logsOnFailure<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    process.stderr.write('towerd log on failure:\n' + (await towerctl(d, ['logs', '-n', '30', '--level', 'debug'])).stdout + '\n');
    throw e;
  }
}

describe.skipIf(!root)('automatic security updates in the lab', () => {
  beforeAll(async () => {
    buildRepo({ dir: repoDir, branch: 'v3.19', packages: helloPackages('1.0-r0'), key });
    const pub = exportPublicKey(key, keysDir);
    lab = await labUp({ home: tempHome('tower-u-'), prefix: `twlt${process.pid % 10000}u`, online: 1, offline: 1 });
    try {
      // nothing runs by itself yet: the window is hours away; the router has no apk at all
      settingsFile({ settleMs: 0, window: windowNotNow(), hosts: { router: { enabled: false } } });
      d = await startTowerd(lab.home);
      const client = await TowerClient.connect(d.socket);
      const deadline = Date.now() + 15_000;
      while ((await client.call('status')).hosts.some((h) => h.state !== 'online')) {
        if (Date.now() > deadline) throw new Error('hosts did not come online');
        await new Promise((r) => setTimeout(r, 50));
      }
      client.close();
      server = await serveRepo(lab, repoDir);
      await resolveOnHost(lab, 'router');
      await resolveOnHost(lab, 'on1');
      for (const h of ['off1', 'on1']) {
        await installApkStandin(lab, h, { root: APK_ROOT, owner: 'tower' });
        const setup = await lab.execHost(
          h,
          ['sh', '-c', `mkdir -p ${APK_ROOT}/etc/apk/keys && printf '%s\\n' 'http://${ALPINE_CDN}/v3.19/main' > ${APK_ROOT}/etc/apk/repositories && cat > ${APK_ROOT}/etc/apk/keys/${basename(pub)} && apk add --initdb >/dev/null`],
          { user: 'tower', input: readFileSync(pub, 'utf8') },
        );
        if (setup.code !== 0) throw new Error(`apk setup on ${h}: ${setup.stderr}`);
        const add = await towerctl(d, ['install', h, 'hello']);
        if (add.code !== 0) throw new Error(`install on ${h}: ${add.stderr}`);
      }
    } catch (err) {
      await d?.stop();
      await lab.down();
      throw err;
    }
  });
  afterAll(async () => {
    await server?.stop();
    await d?.stop();
    await lab?.down();
    rmSync(repoDir, { recursive: true, force: true });
    rmSync(keysDir, { recursive: true, force: true });
  });

  it('counts nothing pending, then 1 once a newer hello is published', async () => {
    expect(await helloOn('off1')).toBe('hello 1.0-r0');
    const before = await towerctl(d, ['updates', 'off1', '--check', '--json']);
    expect(before.code, before.stderr).toBe(0);
    expect(JSON.parse(before.stdout)).toEqual([{ name: 'off1', result: 'ok', reason: null, pending: 0, upgraded: [], unreachable: false }]);
    // a security fix of hello only: libhello stays at 1.0-r0
    const [lib] = helloPackages('1.0-r0');
    const [, hello] = helloPackages('1.1-r0');
    await new Promise((r) => setTimeout(r, 1100)); // If-Modified-Since has one-second resolution
    buildRepo({ dir: repoDir, branch: 'v3.19', packages: [lib!, hello!], key });
    const seen = server.requests().length;
    const r = await towerctl(d, ['updates', 'off1', '--check', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as UpdateResult[])[0]).toMatchObject({ result: 'ok', pending: 1, upgraded: [] });
    expect(server.requests().slice(seen).join('\n')).toMatch(/APKINDEX\.tar\.gz/); // the index was refreshed…
    expect(await helloOn('off1')).toBe('hello 1.0-r0'); // …and nothing was changed
    const u = await host('off1');
    expect(u).toMatchObject({ pending: 1, pendingPackages: [{ name: 'hello', from: '1.0-r0', to: '1.1-r0' }], last: { kind: 'check', result: 'ok' } });
    const status = JSON.parse((await towerctl(d, ['status', '--json'])).stdout) as Status;
    expect(status.hosts.find((h) => h.name === 'off1')!.updates).toMatchObject({ pending: 1, running: false });
    expect(status.hosts.find((h) => h.name === 'router')!.updates).toBeUndefined(); // off for the router
    const human = await towerctl(d, ['status']);
    expect(human.stdout).toMatch(/off1\s+offline\s+192\.168\.3\.200\s+online.*↑1/);
  });

  it('in its window, the scheduler upgrades the offline host through the relay and skips the host running an app', async () => {
    writeFileSync(join(lab.home, 'running-apps.json'), JSON.stringify({ on1: 1 }));
    const relayBefore = server.records().length;
    settingsFile({ settleMs: 0, window: null, hosts: { router: { enabled: false } } });
    expect((await towerctl(d, ['daemon', 'reload'])).code).toBe(0);
    await logsOnFailure(() =>
      expect
        .poll(async () => (await updates()).filter((u) => u.last?.trigger === 'schedule').map((u) => [u.name, u.last!.result]), { timeout: 30_000, interval: 250 })
        .toEqual([
          ['off1', 'ok'],
          ['on1', 'skipped'],
        ]),
    );
    const off1 = await host('off1');
    expect(off1.last).toMatchObject({ kind: 'run', result: 'ok', upgraded: [{ name: 'hello', from: '1.0-r0', to: '1.1-r0' }], pending: 0 });
    expect(off1).toMatchObject({ pending: 0, failures: 0, running: null });
    expect(Date.parse(off1.nextDue!) - Date.parse(off1.lastOkAt!)).toBe(24 * 3_600_000);
    expect(await helloOn('off1')).toBe('hello 1.1-r0');
    // the package came through the router (the lab internet sees only the router's NAT address)
    const fetched = server.records().slice(relayBefore).filter((x) => x.target.includes('hello-1.1-r0.apk'));
    expect(fetched.length).toBeGreaterThanOrEqual(1);
    const audit = JSON.parse((await towerctl(d, ['relay', 'off1', '--json'])).stdout) as { recent: { target: string }[] }[];
    expect(audit[0]!.recent.map((x) => x.target).join(' ')).toContain('hello-1.1-r0.apk');
    await expect.poll(() => readFileSync(join(lab.home, '.local/tower/hosts/off1/world'), 'utf8')).toBe('hello\n');

    const on1 = await host('on1');
    expect(on1.last).toMatchObject({ result: 'skipped', reason: '1 app running on on1', upgraded: [], pending: 1 });
    expect(await helloOn('on1')).toBe('hello 1.0-r0');
    const status = JSON.parse((await towerctl(d, ['status', '--json'])).stdout) as Status;
    expect(status.hosts.find((h) => h.name === 'off1')!.updates).toMatchObject({ pending: 0, last: 'ok', reason: null });
    expect(status.hosts.find((h) => h.name === 'on1')!.updates).toMatchObject({ pending: 1, last: 'skipped', reason: '1 app running on on1' });
    const list = await towerctl(d, ['updates']);
    expect(list.stdout).toMatch(/on1\s+on\s+any time\s+24h\s+.+?\s+1\s+now\s+1 app running on on1\s+skipped .*: 1 app running on on1/);

    // the state is on disk for the next start of towerd
    const saved = JSON.parse(readFileSync(join(lab.home, '.local/tower/hosts/off1/updates.json'), 'utf8')) as { last: { result: string }; pending: number };
    expect(saved).toMatchObject({ version: 1, pending: 0, last: { result: 'ok' } });
  });

  it('by hand, a host running an app is refused (exit 1) unless forced', async () => {
    const r = await towerctl(d, ['updates', 'on1', '--run']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/on1\s+skipped\s+-\s+1\s+1 app running on on1/);
    const f = await towerctl(d, ['updates', 'on1', '--run', '--force', '--json']);
    expect(f.code, f.stderr).toBe(0);
    expect(JSON.parse(f.stdout)).toEqual([{ name: 'on1', result: 'ok', reason: null, pending: 0, upgraded: [{ name: 'hello', from: '1.0-r0', to: '1.1-r0' }], unreachable: false }]);
    expect(await helloOn('on1')).toBe('hello 1.1-r0');
    const bad = await towerctl(d, ['updates', 'nosuch']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/no host named nosuch/);
  });

  it('a restarted towerd remembers: the host that just ran is not run again', async () => {
    await d.stop();
    const requests = server.requests().length;
    d = await startTowerd(lab.home);
    await expect.poll(async () => (await host('off1')).last?.result, { timeout: 15_000 }).toBe('ok');
    const off1 = await host('off1');
    expect(Date.parse(off1.nextDue!)).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    // give the scheduler time to (wrongly) run it: nothing is fetched
    await new Promise((r) => setTimeout(r, 1500));
    expect(server.requests().length).toBe(requests);
    expect((await host('off1')).last?.trigger).toBe('schedule');
  });
});
