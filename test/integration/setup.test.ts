// `towerctl host setup` and `towerctl doctor` on stock TowerOS hosts (the Alpine-like profile with only TowerOS's
// own packages): `run` names host setup, setup installs the Alpine packages through apk (the offline host through
// the package relay) and a second run installs nothing; doctor names what was taken away again, on a host and on
// the thin client. towerd runs with a PATH of its own, so a thin-client program can be taken off it.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorCheck } from '../../protocol/index.js';
import { TowerClient } from '../../client/rpc.js';
import { parseTowerEnv } from '../../daemon/core/registry/towerenv.js';
import { APK_ROOT, APK_SETTINGS, apkRepo, type ApkRepo } from '../helpers/apkRepo.js';
import { startXScreen, type XScreen } from '../helpers/desktop.js';
import { makeHostImage, mread } from '../helpers/hostimage.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { TOWERCTL, run, startDaemon, startTowerctl, tempHome, towerctl, type RunningDaemon } from '../helpers/towerd.js';
import { until } from '../helpers/until.js';
import { resolveOnHost } from '../lab/alpine/dns.js';
import { hostPackageSpecs } from '../lab/alpine/hostPackages.js';
import { buildRepo, createSigningKey } from '../lab/alpine/repo.js';
import { serveRepo, type RepoServer } from '../lab/alpine/serve.js';
import { labUp, type RunningLab } from '../lab/lab.js';
import { defaultProfile } from '../lab/profile.js';

const root = process.getuid?.() === 0;
/** What towerd runs on the thin client, linked into the folder that is its whole PATH. */
const TC_TOOLS = ['vncviewer', 'xdotool', 'xev', 'wl-copy', 'wl-paste', 'unshare', 'sh'];
const find = (tool: string) => (process.env.PATH ?? '').split(':').map((d) => join(d, tool)).find((p) => existsSync(p));
const missing = [...TC_TOOLS, 'Xvnc', 'nsenter'].filter((t) => !find(t));

let lab: RunningLab;
let d: RunningDaemon;
let client: TowerClient;
let repo: ApkRepo;
let screen: XScreen;
let bin: string;

describe.skipIf(!root || missing.length > 0 || defaultProfile() !== 'alpine')('towerctl host setup and doctor on stock TowerOS hosts', () => {
  beforeAll(async () => {
    bin = mkdtempSync(join(tmpdir(), 'tower-setup-bin-'));
    for (const t of TC_TOOLS) symlinkSync(find(t)!, join(bin, t));
    screen = await startXScreen({ geometry: '1280x800' });
    lab = await labUp({ prefix: `twlt${process.pid % 10000}hs`, home: tempHome('tower-hs-'), online: 1, offline: 1, hostPackages: [] });
    mkdirSync(join(lab.home, '.config', 'tower'), { recursive: true });
    writeFileSync(join(lab.home, '.config', 'tower', 'towerd.json'), JSON.stringify({ packages: APK_SETTINGS, desktop: { sound: 'off', closeGraceMs: 1000 } }));
    // the repository as dl-cdn.alpinelinux.org in the lab internet, holding the Alpine packages Tower needs
    repo = await apkRepo(lab, ['on1', 'off1'], hostPackageSpecs());
    const [, ...ns] = lab.tcSpawnPrefix();
    d = await startDaemon({ home: lab.home, spawnPrefix: [find('nsenter')!, ...ns], env: { PATH: bin } });
    client = await TowerClient.connect(d.socket, { validate: true });
    await until('every host online', async () => (await client.call('status')).hosts.every((h) => h.state === 'online') || undefined, 20_000);
  });

  afterAll(async () => {
    client?.close();
    await d?.stop();
    await repo?.stop();
    await lab?.down();
    await screen?.stop();
    if (bin) rmSync(bin, { recursive: true, force: true });
  });

  const towerRun = (host: string, argv: string[]) => run(process.execPath, [TOWERCTL, 'run', '--json', host, '--', ...argv], { env: { ...d.env, DISPLAY: screen.display, NO_COLOR: '1' }, timeoutMs: 40_000 });

  it('run on a stock host fails naming towerctl host setup', async () => {
    const r = await towerRun('off1', ['xlogo']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/off1: Xvnc is not installed on off1; towerctl host setup off1 installs what Tower needs there/);
  });

  it('--dry-run says what it would install and installs nothing', async () => {
    const r = await towerctl(d, ['host', 'setup', 'off1', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^off1: would install tigervnc openbox xrandr \(missing: Xvnc, openbox, xrandr\)$/m);
    expect((await lab.execHost('off1', ['cat', `${APK_ROOT}/etc/apk/world`])).stdout).toBe('');
  });

  it('host setup installs through the relay on the offline host; run then shows the app; a second setup installs nothing', async () => {
    const seen = repo.server.requests().length;
    const r = await towerctl(d, ['host', 'setup', 'off1']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toMatch(/off1: installing tigervnc openbox xrandr/);
    expect(r.stderr).toMatch(/off1 is offline: apk goes through the package relay/);
    expect(r.stdout).toMatch(/Installing tigervnc \(1\.12\.0-r3\)/);
    expect(r.stderr).toMatch(/off1: done: every program Tower needs is there/);
    expect(repo.server.requests().slice(seen).join('\n')).toMatch(/tigervnc-1\.12\.0-r3\.apk/);
    const audit = JSON.parse((await towerctl(d, ['relay', 'off1', '--json'])).stdout) as { fetches: number }[];
    expect(audit[0]!.fetches).toBeGreaterThanOrEqual(2);
    await until('the world saved', () => {
      try {
        const w = readWorld('off1');
        return w.includes('tigervnc') ? w : undefined;
      } catch {
        return undefined;
      }
    }, 5000);

    // the app itself is the user's to install; with Tower's programs there, run shows it
    expect((await towerctl(d, ['install', 'off1', 'xlogo'])).code).toBe(0);
    const shown = await towerRun('off1', ['xlogo']);
    expect(shown.code, shown.stderr).toBe(0);
    const { app } = JSON.parse(shown.stdout) as { app: { id: string; state: string; viewer: string } };
    expect(app).toMatchObject({ state: 'running', viewer: 'attached' });
    await client.call('apps.close', { id: app.id });

    const again = await towerctl(d, ['host', 'setup', 'off1', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/^off1: nothing to install: every program Tower needs is there/m);
    expect(JSON.parse(again.stdout)).toEqual([{ host: 'off1', missing: [], installed: [], stillMissing: [], code: 0 }]);
  });

  it('host setup --all covers the online host too, going out directly', async () => {
    const r = await towerctl(d, ['host', 'setup', '--all', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/on1 is offline/);
    const res = JSON.parse(r.stdout) as { host: string; installed: string[] }[];
    expect(res.map((x) => [x.host, x.installed])).toEqual([
      ['off1', []],
      ['on1', ['tigervnc', 'openbox', 'xrandr']],
    ]);
  });

  it('doctor names a program removed from a host and one taken off the thin client’s PATH, exit 4', async () => {
    rmSync(join(bin, 'xdotool'));
    const rm = await lab.execHost('off1', ['rm', `${APK_ROOT}/usr/bin/Xvnc`]);
    expect(rm.code, rm.stderr).toBe(0);
    const r = await towerctl(d, ['doctor']);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stdout).toMatch(/^off1 +Xvnc +fail +Xvnc is missing on off1 \(run: the app’s X server\) +towerctl host setup off1 \(installs tigervnc\)/m);
    expect(r.stdout).toMatch(/^thinclient +xdotool +warn +xdotool is not on towerd's PATH/m);
    const checks = JSON.parse((await towerctl(d, ['doctor', '--json'])).stdout) as DoctorCheck[];
    const of = (scope: string, check: string) => checks.find((c) => c.scope === scope && c.check === check);
    const notOk = JSON.stringify(checks.filter((c) => c.status !== 'ok'));
    expect(of('on1', 'host tools')?.status, notOk).toBe('ok');
    expect(of('thinclient', 'vncviewer')?.status).toBe('ok');
    expect(of('thinclient', 'socket')?.status).toBe('ok');
    // towerctl runs outside any Wayland or sway session here
    expect([of('thinclient', 'wayland')?.status, of('thinclient', 'sway')?.status]).toEqual(['warn', 'warn']);
    for (const h of ['router', 'on1', 'off1']) {
      expect(of('thinclient', `pinned key ${h}`)?.status).toBe('ok');
      expect(of(h, 'connection')?.status).toBe('ok');
      if (h !== 'router') expect(of(h, 'apk repositories')?.status, JSON.stringify(of(h, 'apk repositories'))).toBe('ok');
      expect(of(h, 'space /')?.status).toBe('ok');
      expect(of(h, 'space /tmp')?.status).toBe('ok');
      // the lab's hosts share the machine's clock: round trips of a few ms bound the offset tightly
      expect(of(h, 'clock')?.status).toBe('ok');
      expect(of(h, 'clock')?.detail).toMatch(/^[+-]0\.0\d\d s ± 0\.0\d\d s/);
    }
    // a doctor run of one healthy host (its thin client's warning stays): 1
    await lab.execHost('off1', ['sh', '-c', `printf '#!/bin/sh\\nexec /usr/bin/Xvnc "$@"\\n' > ${APK_ROOT}/usr/bin/Xvnc && chmod 755 ${APK_ROOT}/usr/bin/Xvnc`]);
    const one = await towerctl(d, ['doctor', 'off1']);
    expect(one.stdout).not.toMatch(/^(on1|router) /m);
    expect(one.code, one.stdout).toBe(1);
  });

  function readWorld(host: string): string {
    return readFileSync(join(lab.home, '.local/tower/hosts', host, 'world'), 'utf8');
  }
});

describe.skipIf(!root || defaultProfile() !== 'alpine')('towerctl provision --setup', () => {
  let t: LabDaemon;
  let server: RepoServer;
  const dirs: string[] = [];
  const scratch = (p: string) => {
    const dir = mkdtempSync(join(tmpdir(), p));
    dirs.push(dir);
    return dir;
  };

  beforeAll(async () => {
    // a stock TowerOS host's own repositories (dl-cdn…/alpine/v3.19/{main,community}), served in the lab internet;
    // the fresh host cannot be given the repository's key before it boots, so apk runs with --allow-untrusted here
    t = await labDaemon('hp', { online: 0, offline: 0, hostPackages: [] }, { packages: { ...APK_SETTINGS, apk: ['apk', '--allow-untrusted'] }, desktop: { sound: 'off' } });
    const repoDir = scratch('tower-hp-repo-');
    const key = createSigningKey();
    for (const r of ['main', 'community'] as const) buildRepo({ dir: join(repoDir, 'alpine'), repo: r, packages: r === 'community' ? hostPackageSpecs() : [], key });
    server = await serveRepo(t.lab, repoDir);
    await resolveOnHost(t.lab, 'router');
  });
  afterAll(async () => {
    await server?.stop();
    await t?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('installs what Tower needs once the provisioned host is up, through the relay', async () => {
    const image = await makeHostImage(scratch('tower-hp-img-'));
    const outFile = join(scratch('tower-hp-out-'), 'fresh.img');
    const { proc: cli, out, exited } = startTowerctl(t.d, ['provision', 'fresh', '--offline', '--user', t.lab.snapshot().user, '--image', image.path, '--to-file', outFile, '--timeout', '60', '--setup']);
    try {
      await until('the image written', () => /waiting for fresh/.test(out.stderr) || undefined, 30_000);
      const boot = scratch('tower-hp-boot-');
      const env = parseTowerEnv((await mread(outFile, image.offsetBytes, 'tower.env')).toString('utf8'));
      for (const f of ['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']) writeFileSync(join(boot, f), await mread(outFile, image.offsetBytes, f), { mode: 0o600 });
      await t.lab.bootHost({ name: 'fresh', role: 'offline', ip: env.STATIC_HOST_IP!, hostKeyFile: join(boot, 'ssh_host_ed25519_key'), authorizedKey: env.PUBLIC_KEY! });
      expect(await exited, out.stderr + out.stdout).toBe(0);
      expect(out.stdout).toMatch(/^fresh is online at 192\.168\.3\.200/m);
      expect(out.stderr).toMatch(/^fresh: installing tigervnc openbox xrandr/m);
      expect(out.stderr).toMatch(/fresh is offline: apk goes through the package relay/);
      expect(out.stderr).toMatch(/^fresh: done: every program Tower needs is there$/m);
      expect(server.requests().join('\n')).toMatch(/GET \/alpine\/v3\.19\/community\/x86_64\/tigervnc-1\.12\.0-r3\.apk/);
      const again = await towerctl(t.d, ['host', 'setup', 'fresh']);
      expect(again.stderr).toMatch(/^fresh: nothing to install/m);
    } finally {
      if (cli.exitCode === null) cli.kill('SIGKILL');
    }
  });
});
