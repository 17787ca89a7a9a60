// The package relay for real: an offline host whose firewall drops all egress installs from the lab's Alpine
// repository (served as dl-cdn.alpinelinux.org in the lab internet) through towerd's relay and the router.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APK_ROOT as ROOT, CDN_MAIN, apkRepo, type ApkRepo } from '../helpers/apkRepo.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { towerctl } from '../helpers/towerd.js';
import { ALPINE_CDN } from '../lab/alpine/dns.js';
import { bigdataPackage, helloPackages } from '../lab/alpine/repo.js';
import type { RepoServer } from '../lab/alpine/serve.js';

const root = process.getuid?.() === 0;
/** A file's content, or null while it does not exist (the world file is saved just after apk exits). */
const readOrNull = (p: string): string | null => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
};
let t: LabDaemon;
let repo: ApkRepo;
let server: RepoServer;

/** What a host looks like from inside, for before/after comparisons: its own /etc files, firewall and listeners. */
async function hostSnapshot(name: string): Promise<string> {
  const r = await t.lab.execHost(name, ['sh', '-c', 'cat /etc/hosts /etc/resolv.conf; nft list ruleset; ss -Htln | sort']);
  return r.stdout;
}

describe.skipIf(!root)('apk through the package relay', () => {
  beforeAll(async () => {
    // sound off: its forward's listener on the host goes with the connection when towerd dies, and the crash test
    // compares the host's listeners before and after
    t = await labDaemon('p', { online: 1, offline: 1 }, { packages: { privilege: [], worldFile: `${ROOT}/etc/apk/world` }, desktop: { sound: 'off' } });
    repo = await apkRepo(t.lab, ['off1', 'on1'], [...helloPackages('1.0-r0'), bigdataPackage(32 * 1024 * 1024)]);
    server = repo.server;
  });
  afterAll(async () => {
    await repo?.stop();
    await t?.close();
  });

  it('the offline host cannot reach the repository by itself', async () => {
    const r = await towerctl(t.d, ['exec', 'off1', '--', 'apk', 'update']);
    expect(r.code).not.toBe(0);
    const direct = await t.lab.execHost('off1', ['python3', '-c', `import socket; socket.create_connection(('${t.lab.internetIp}', 80), timeout=2)`]);
    expect(direct.code).not.toBe(0);
  });

  it('towerctl install on the offline host goes through the relay and the router; its world is saved', async () => {
    const before = await hostSnapshot('off1');
    const seen = server.requests().length;
    const r = await towerctl(t.d, ['install', 'off1', 'hello']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toMatch(/off1 is offline: apk goes through the package relay/);
    // index first, then the packages, all arriving from the router's side of the lab internet
    const reqs = server.requests().slice(seen);
    expect(reqs[0]).toMatch(/APKINDEX\.tar\.gz/);
    expect(reqs.join('\n')).toMatch(/libhello-1\.0-r0\.apk[\s\S]*hello-1\.0-r0\.apk|hello-1\.0-r0\.apk[\s\S]*libhello/);
    expect((await t.lab.execHost('off1', ['cat', `${ROOT}/usr/bin/hello`])).code).toBe(0);
    try {
      await expect.poll(() => readOrNull(join(t.lab.home, '.local/tower/hosts/off1/world')), { timeout: 3000 }).toBe('hello\n');
    } catch (e) {
      process.stderr.write('towerd log on failure:\n' + (await towerctl(t.d, ['logs', '-n', '14', '--level', 'debug'])).stdout + '\n');
      throw e;
    }
    // the relay kept a record per fetch and left nothing behind on the host
    const audit = JSON.parse((await towerctl(t.d, ['relay', 'off1', '--json'])).stdout) as { fetches: number; refusals: number; recent: { target: string }[] }[];
    expect(audit[0]!.fetches).toBeGreaterThanOrEqual(3);
    expect(audit[0]!.recent.map((x) => x.target).join(' ')).toContain(`http://${ALPINE_CDN}/v3.19/main/x86_64/APKINDEX.tar.gz`);
    await expect.poll(() => hostSnapshot('off1'), { timeout: 3000 }).toBe(before);
    // remove goes the same way
    const del = await towerctl(t.d, ['remove', 'off1', 'hello']);
    expect(del.code, del.stderr).toBe(0);
    await expect.poll(() => readOrNull(join(t.lab.home, '.local/tower/hosts/off1/world')), { timeout: 3000 }).toBe('');
  });

  it('online hosts go out directly, without the relay', async () => {
    const r = await towerctl(t.d, ['install', 'on1', 'hello']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/relay/);
    try {
      await expect.poll(() => readOrNull(join(t.lab.home, '.local/tower/hosts/on1/world')), { timeout: 3000 }).toBe('hello\n');
    } catch (e) {
      process.stderr.write('towerd log on failure:\n' + (await towerctl(t.d, ['logs', '-n', '12', '--level', 'debug'])).stdout + '\n');
      throw e;
    }
  });

  it('a repository host that is not allow-listed is refused and logged', async () => {
    // the host's own repositories file names another server (the lab internet by address)
    await repo.setRepositories('off1', [`http://${t.lab.internetIp}/v3.19/main`]);
    try {
      const r = await towerctl(t.d, ['install', 'off1', 'hello']);
      expect(r.code).not.toBe(0);
      const audit = JSON.parse((await towerctl(t.d, ['relay', 'off1', '--json'])).stdout) as { refusals: number; recent: { kind: string; reason?: string }[] }[];
      expect(audit[0]!.refusals).toBeGreaterThanOrEqual(1);
      expect(audit[0]!.recent[0]).toMatchObject({ kind: 'refused', reason: `${t.lab.internetIp} is not an allowed repository host` });
      const logs = await towerctl(t.d, ['logs', '--level', 'warn', '-n', '20']);
      expect(logs.stdout).toMatch(/relay refused .*not an allowed repository host/);
    } finally {
      await repo.setRepositories('off1', [CDN_MAIN]);
    }
  });

  it('kill -9 of towerd in the middle of an install leaves the host exactly as before', async () => {
    const before = await hostSnapshot('off1');
    const { spawn } = await import('node:child_process');
    const { TOWERCTL } = await import('../helpers/towerd.js');
    const p = spawn(process.execPath, [TOWERCTL, 'install', 'off1', 'bigdata'], { env: t.d.env, stdio: 'ignore' });
    // as soon as the relay is serving the big package, kill towerd without a chance to clean up
    await expect.poll(() => server.requests().some((r) => r.includes('bigdata')), { timeout: 10_000, interval: 5 }).toBe(true);
    t.d.proc.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
    // the host's files, firewall and listeners come back to what they were (sshd drops the relay's listener)
    const deadline = Date.now() + 5000;
    let after = await hostSnapshot('off1');
    while (after !== before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      after = await hostSnapshot('off1');
    }
    expect(after).toBe(before);
    expect((await t.lab.execHost('off1', ['test', '-e', `${ROOT}/usr/share/bigdata`])).code).not.toBe(0);
  });
});
