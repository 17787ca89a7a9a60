// `towerctl install HOST --world`: a package removed on an offline host behind Tower's back comes back from the
// saved world, through the package relay and the router.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorldDiff } from '../../protocol/index.js';
import { APK_ROOT, APK_SETTINGS, apkRepo, type ApkRepo } from '../helpers/apkRepo.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { towerctl } from '../helpers/towerd.js';
import { helloPackages } from '../lab/alpine/repo.js';

const root = process.getuid?.() === 0;
let t: LabDaemon;
let repo: ApkRepo;
const worldOf = (host: string) => readFileSync(join(t.lab.home, `.local/tower/hosts/${host}/world`), 'utf8');
const hostWorld = async (host: string) => (await t.lab.execHost(host, ['cat', `${APK_ROOT}/etc/apk/world`])).stdout;
const hasHello = async (host: string) => (await t.lab.execHost(host, ['test', '-e', `${APK_ROOT}/usr/bin/hello`])).code === 0;

describe.skipIf(!root)('towerctl install HOST --world', () => {
  beforeAll(async () => {
    t = await labDaemon('w', { online: 0, offline: 1, hostPackages: [] }, { packages: APK_SETTINGS, desktop: { sound: 'off' } });
    repo = await apkRepo(t.lab, ['off1'], helloPackages('1.0-r0'));
  });
  afterAll(async () => {
    await repo?.stop();
    await t?.close();
  });

  it('brings back a package removed on the offline host, through the relay; the difference is printed', async () => {
    const add = await towerctl(t.d, ['install', 'off1', 'hello']);
    expect(add.code, add.stderr).toBe(0);
    await expect.poll(() => worldOf('off1'), { timeout: 3000 }).toBe('hello\n');
    // removed on the host itself (not through Tower): the saved world still has it
    const del = await t.lab.execHost('off1', ['apk', 'del', 'hello']);
    expect(del.code, del.stderr).toBe(0);
    expect(await hasHello('off1')).toBe(false);
    expect(await hostWorld('off1')).toBe('');

    const dry = await towerctl(t.d, ['install', 'off1', '--world', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const diff = JSON.parse(dry.stdout) as WorldDiff & { dryRun: boolean };
    expect(diff).toMatchObject({ host: 'off1', wanted: ['hello'], missing: ['hello'], present: [], extra: [], dryRun: true });
    expect(diff.source).toMatch(/hosts\/off1\/world \(saved \d{4}-\d\d-\d\d /);
    expect(await hasHello('off1')).toBe(false);

    const before = (JSON.parse((await towerctl(t.d, ['relay', 'off1', '--json'])).stdout) as { fetches: number }[])[0]!.fetches;
    const r = await towerctl(t.d, ['install', 'off1', '--world']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toMatch(/off1 is offline: apk goes through the package relay/);
    expect(r.stdout).toMatch(/^off1: saved world .*, 1 package$/m);
    expect(r.stdout).toMatch(/^ {2}added {4}hello$/m);
    expect(r.stdout).toMatch(/^ {2}already {4}-$/m);
    expect(r.stdout).toMatch(/^ {2}extra {6}-$/m);
    expect(await hasHello('off1')).toBe(true);
    const after = (JSON.parse((await towerctl(t.d, ['relay', 'off1', '--json'])).stdout) as { fetches: number }[])[0]!.fetches;
    expect(after).toBeGreaterThan(before);
    expect(await hostWorld('off1')).toBe('hello\n');
    await expect.poll(() => worldOf('off1'), { timeout: 3000 }).toBe('hello\n');

    // nothing missing now: apk does not run
    const again = await towerctl(t.d, ['install', 'off1', '--world', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ missing: [], present: ['hello'], extra: [], code: 0 });
    expect(again.stderr).toMatch(/every package of the saved world is installed/);
  });

  it('--from FILE: a bad line is refused by its number; extra packages are kept, or removed with --exact', async () => {
    // an extra package on the host, installed explicitly
    expect((await towerctl(t.d, ['install', 'off1', 'libhello'])).code).toBe(0);
    const file = join(t.lab.home, 'office.world');
    writeFileSync(file, 'hello\n\nlibhello\nrm -rf\n');
    const bad = await towerctl(t.d, ['install', 'off1', '--world', '--from', file]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(`${file} line 4: "-rf" is not an apk world entry`);
    writeFileSync(file, 'hello\n');
    const kept = await towerctl(t.d, ['install', 'off1', '--world', '--from', file]);
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stdout).toMatch(/^ {2}extra {6}libhello {2}\(on the host, not in the saved world; kept\)$/m);
    expect((await hostWorld('off1')).split('\n').filter(Boolean).sort()).toEqual(['hello', 'libhello']);
    const r = await towerctl(t.d, ['install', 'off1', '--world', '--from', file, '--exact', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ source: file, missing: [], present: ['hello'], extra: ['libhello'], removed: ['libhello'], code: 0 });
    expect(await hostWorld('off1')).toBe('hello\n');
    expect(await hasHello('off1')).toBe(true);
  });

  it('refuses usage mistakes and a host without a saved world', async () => {
    expect((await towerctl(t.d, ['install', 'off1', 'hello', '--world'])).code).toBe(2);
    expect((await towerctl(t.d, ['install', 'off1', '--dry-run'])).code).toBe(2);
    expect((await towerctl(t.d, ['install', 'off1'])).code).toBe(2);
    const none = await towerctl(t.d, ['install', 'router', '--world']);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/no saved world for router .*give one with --from FILE/);
  });
});
