// towerctl reprovision in the lab: an offline host provisioned by Tower, with a package and a file in /home, is
// reinstalled to an image file; it "boots" from that image (its root reset to stock, /home kept) and comes back
// with the key it always had, and towerd restores its packages through the package relay.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Event, HostInfo, ReprovisionRunResult } from '../../protocol/index.js';
import { parseTowerEnv } from '../../daemon/core/registry/towerenv.js';
import { APK_ROOT, APK_SETTINGS, apkRepo, type ApkRepo } from '../helpers/apkRepo.js';
import { makeHostImage, mlist, mread, type HostImage } from '../helpers/hostimage.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { startTowerctl, towerctl } from '../helpers/towerd.js';
import { until } from '../helpers/until.js';
import { helloPackages } from '../lab/alpine/repo.js';

const root = process.getuid?.() === 0;
const scratch: string[] = [];
const scratchDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(d);
  return d;
};
const KEYS = ['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub', 'ssh_host_ecdsa_key', 'ssh_host_ecdsa_key.pub', 'ssh_host_rsa_key', 'ssh_host_rsa_key.pub'];

let t: LabDaemon;
let repo: ApkRepo | undefined;
let image: HostImage;
let user: string;
const events: { at: number; e: Event }[] = [];
const hostDir = () => join(t.lab.home, '.local/tower/hosts/keep');

/** The lab host's "boot" from an image's boot partition: its sshd gets the host key and the authorized key from there. */
async function bootFrom(file: string): Promise<Record<string, string>> {
  const env = parseTowerEnv((await mread(file, image.offsetBytes, 'tower.env')).toString('utf8'));
  const dir = scratchDir('tower-bootfs-');
  for (const f of ['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']) writeFileSync(join(dir, f), await mread(file, image.offsetBytes, f), { mode: 0o600 });
  return { ...env, KEY_DIR: dir };
}

describe.skipIf(!root)('towerctl reprovision of an offline host to an image file', () => {
  beforeAll(async () => {
    t = await labDaemon('rp', { online: 0, offline: 0, hostPackages: [] }, {
      packages: APK_SETTINGS,
      desktop: { sound: 'off' },
      // the lab's hosts share the machine's kernel (one boot_id) and must not reboot it: a boot id of their own, and a reboot that leaves a note
      reprovision: { bootIdCommand: ['cat', '/run/lab-boot-id'], rebootCommand: ['sh', '-c', 'echo requested > /tmp/reboot-requested'] },
    });
    user = t.lab.snapshot().user;
    image = await makeHostImage(scratchDir('tower-images-'));
    await t.client.subscribe(['hosts', 'jobs'], (e) => events.push({ at: Date.now(), e }));
    // provisioned by Tower and booted from its image, as in provision.test.ts
    const first = join(scratchDir('tower-img-'), 'keep.img');
    writeFileSync(join(t.lab.home, 'pw'), 'secret password\n');
    const p = await towerctl(t.d, ['provision', 'keep', '--offline', '--user', user, '--image', image.path, '--to-file', first, '--password-file', join(t.lab.home, 'pw'), '--no-wait']);
    expect(p.code, p.stderr).toBe(0);
    const env = await bootFrom(first);
    await t.lab.bootHost({ name: 'keep', role: 'offline', ip: env.STATIC_HOST_IP!, hostKeyFile: join(env.KEY_DIR!, 'ssh_host_ed25519_key'), authorizedKey: env.PUBLIC_KEY! });
    await until('keep online', async () => (await t.client.call('host.get', { name: 'keep' })).state === 'online', 15_000);
    repo = await apkRepo(t.lab, ['keep'], helloPackages('1.0-r0'));
    // the stock system: apk's root as the image installs it, before any package of the user's
    const stock = await t.lab.execHost('keep', ['sh', '-c', `tar -C ${APK_ROOT} -cf /run/stock-root.tar .`]);
    expect(stock.code, stock.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await repo?.stop();
    await t?.close();
    for (const d of scratch.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('refuses a host whose folder has no host keys (not provisioned by Tower), naming what is missing', async () => {
    const r = await towerctl(t.d, ['reprovision', 'router', '--image', image.path, '--to-file', join(scratchDir('tower-img-'), 'r.img'), '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/router cannot be reinstalled with its identity: .*hosts\/router has no crypto_keyfile\.bin \(the LUKS key of its \/home\)/);
  });

  it('comes back with the same pinned key, its packages restored through the relay, /home kept', async () => {
    const inst = await towerctl(t.d, ['install', 'keep', 'hello']);
    expect(inst.code, inst.stderr).toBe(0);
    await expect.poll(() => readFileSync(join(hostDir(), 'world'), 'utf8'), { timeout: 3000 }).toBe('hello\n');
    const note = await towerctl(t.d, ['exec', 'keep', '--', 'sh', '-c', 'echo "written before the reinstall" > "$HOME/notes.txt"']);
    expect(note.code, note.stderr).toBe(0);

    // the user powers the host off and writes its new card (here: a file)
    await t.lab.crash('keep');
    await expect.poll(async () => (await t.client.call('host.get', { name: 'keep' })).state, { timeout: 10_000 }).not.toBe('online');
    const kh = join(t.lab.home, '.ssh/known_hosts');
    const khBefore = readFileSync(kh, 'utf8');
    const configBefore = readFileSync(join(t.lab.home, '.local/tower/config'), 'utf8');
    const envBefore = readFileSync(join(hostDir(), 'tower.env'), 'utf8');
    const out = join(scratchDir('tower-img-'), 'keep-new.img');
    const fetchesBefore = (JSON.parse((await towerctl(t.d, ['relay', 'keep', '--json'])).stdout) as { fetches: number }[])[0]?.fetches ?? 0;
    const since = Date.now();
    const cli = startTowerctl(t.d, ['reprovision', 'keep', '--image', image.path, '--to-file', out, '--yes', '--timeout', '120']);
    try {
      await expect.poll(() => events.some(({ at, e }) => at >= since && e.type === 'job.progress' && e.job.kind === 'reprovision' && e.job.phase === 'done'), { timeout: 30_000 }).toBe(true);
      await expect.poll(async () => (await t.client.call('host.get', { name: 'keep' })).reinstall?.state, { timeout: 5000 }).toBe('waiting');
      expect(existsSync(join(hostDir(), 'reinstall'))).toBe(true);

      // the media: the host's own keys and LUKS key file, byte for byte; tower.env for an upgrade
      const files = await mlist(out, image.offsetBytes);
      for (const f of ['tower.env', 'crypto_keyfile.bin', ...KEYS]) expect(files).toContain(f);
      for (const f of ['crypto_keyfile.bin', ...KEYS]) expect((await mread(out, image.offsetBytes, f)).equals(readFileSync(join(hostDir(), f))), f).toBe(true);
      const saved = parseTowerEnv(envBefore);
      const media = parseTowerEnv((await mread(out, image.offsetBytes, 'tower.env')).toString('utf8'));
      const { PASSWORD_HASH, INSTALLATION_TYPE, ...kept } = saved;
      expect(PASSWORD_HASH).toMatch(/^\$6\$/);
      expect(INSTALLATION_TYPE).toBe('install');
      expect(media).toEqual({ ...kept, INSTALLATION_TYPE: 'upgrade' });
      expect(media.PUBLIC_KEY).toBe(readFileSync(join(hostDir(), 'id_ed25519.pub'), 'utf8').trim());
      // nothing of the thin client's changed: no re-pinning, same address and block, same folder tower.env
      expect(readFileSync(kh, 'utf8')).toBe(khBefore);
      expect(readFileSync(join(t.lab.home, '.local/tower/config'), 'utf8')).toBe(configBefore);
      expect(readFileSync(join(hostDir(), 'tower.env'), 'utf8')).toBe(envBefore);

      // the "boot" of the new system: root reset to stock (the package is gone), /home kept, keys from the media
      const reset = await t.lab.execHost('keep', ['sh', '-c', `rm -rf ${APK_ROOT} && mkdir -p ${APK_ROOT} && tar -C ${APK_ROOT} -xf /run/stock-root.tar`]);
      expect(reset.code, reset.stderr).toBe(0);
      expect((await t.lab.execHost('keep', ['test', '-e', `${APK_ROOT}/usr/bin/hello`])).code).not.toBe(0);
      const env = await bootFrom(out);
      const host = t.lab.host('keep');
      for (const f of ['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']) copyFileSync(join(env.KEY_DIR!, f), join(host.bootDir, f));
      writeFileSync(join(host.bootDir, 'authorized_keys'), `${env.PUBLIC_KEY}\n`);
      const booted = Date.now();
      await t.lab.startSshd('keep');

      const code = await cli.exited;
      expect(code, cli.out.stderr + cli.out.stdout).toBe(0);
      console.log(`lab: sshd of keep started → reprovision done (restored) in ${Date.now() - booted} ms`);
      expect(cli.out.stdout).toMatch(/^keep: 48\.0 MiB written to .*keep-new\.img .*verified/m);
      expect(cli.out.stdout).toMatch(/host keys kept, known_hosts unchanged: ED25519 SHA256:\S+, ECDSA SHA256:\S+, RSA SHA256:\S+/);
      expect(cli.out.stdout).toMatch(/^keep is back at 192\.168\.3\.200 with the key it always had$/m);
      expect(cli.out.stdout).toMatch(/^ {2}added {4}hello$/m);
      // the package came back through the relay, the file in /home survived
      expect((await t.lab.execHost('keep', ['test', '-e', `${APK_ROOT}/usr/bin/hello`])).code).toBe(0);
      expect((await towerctl(t.d, ['exec', 'keep', '--', 'sh', '-c', 'cat "$HOME/notes.txt"'])).stdout).toBe('written before the reinstall\n');
      const fetchesAfter = (JSON.parse((await towerctl(t.d, ['relay', 'keep', '--json'])).stdout) as { fetches: number }[])[0]!.fetches;
      expect(fetchesAfter).toBeGreaterThan(fetchesBefore);
      // the same key all along: no mismatch, no prompt, known_hosts untouched, the marker gone
      const states = events.filter(({ at, e }) => at >= since && (e.type === 'host.state' || e.type === 'host.added') && e.host.name === 'keep').map(({ e }) => (e as { host: HostInfo }).host.state);
      expect(states).toContain('online');
      expect(states).not.toContain('hostkey-mismatch');
      expect(states).not.toContain('auth-failed');
      expect(readFileSync(kh, 'utf8')).toBe(khBefore);
      expect(existsSync(join(hostDir(), 'reinstall'))).toBe(false);
      const info = await t.client.call('host.get', { name: 'keep' });
      expect(info.reinstall).toMatchObject({ state: 'done', error: null, world: { missing: ['hello'], present: [], extra: [], relayed: true, code: 0 } });
      expect(readFileSync(join(hostDir(), 'world'), 'utf8')).toBe('hello\n');
      expect((await towerctl(t.d, ['host', 'show', 'keep'])).stdout).toMatch(/reinstall +media written .* UTC; world restored \(1 added, 0 already there, 0 extra\)/);
      const logs = (await towerctl(t.d, ['logs', '-n', '200'])).stdout;
      expect(logs).toMatch(/saved world restored after the reinstall/);
    } finally {
      if (cli.proc.exitCode === null) cli.proc.kill('SIGKILL');
    }
  }, 180_000);

  it('--on-host: the media streamed onto the host’s boot device (a file stand-in in its private /var/tmp), verified, the host rebooted; the old system’s connection does not count', async () => {
    // keep runs its new system now; its "boot" number 1, and its boot device
    const boot = await t.lab.execHost('keep', ['sh', '-c', 'echo boot-1 > /run/lab-boot-id && : > /var/tmp/bootdev.img']);
    expect(boot.code, boot.stderr).toBe(0);
    await expect.poll(async () => (await t.client.call('host.get', { name: 'keep' })).state, { timeout: 10_000 }).toBe('online');
    const kh = join(t.lab.home, '.ssh/known_hosts');
    const khBefore = readFileSync(kh, 'utf8');
    const since = Date.now();
    const cli = startTowerctl(t.d, ['reprovision', 'keep', '--image', image.path, '--on-host', '--boot-device', '/var/tmp/bootdev.img', '--yes', '--timeout', '120']);
    try {
      await expect.poll(() => events.some(({ at, e }) => at >= since && e.type === 'job.progress' && e.job.kind === 'reprovision' && e.job.phase === 'done'), { timeout: 60_000 }).toBe(true);
      const phases = events.filter(({ at, e }) => at >= since && e.type === 'job.progress' && e.job.host === 'keep').map(({ e }) => (e.type === 'job.progress' ? e.job.phase : ''));
      expect([...new Set(phases)]).toEqual(['write', 'verify', 'inject', 'upload', 'done']);
      // the reboot is asked for just after the job reports done
      await until('the reboot requested', async () => (await t.lab.execHost('keep', ['cat', '/tmp/reboot-requested'])).stdout === 'requested\n', 10_000);
      // what the host's boot device holds: the image with the host's own boot files, tower.env for an upgrade
      const mt = (name: string, pipe = '') =>
        t.lab.execHost('keep', ['sh', '-c', `MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null mcopy -n -i /var/tmp/bootdev.img@@${image.offsetBytes} ::/${name} -${pipe}`]);
      const env = parseTowerEnv((await mt('tower.env')).stdout);
      expect(env.INSTALLATION_TYPE).toBe('upgrade');
      expect(env).not.toHaveProperty('PASSWORD_HASH');
      const { createHash } = await import('node:crypto');
      for (const f of ['crypto_keyfile.bin', 'ssh_host_ed25519_key', 'ssh_host_rsa_key'])
        expect((await mt(f, ' | sha256sum')).stdout.split(' ')[0], f).toBe(createHash('sha256').update(readFileSync(join(hostDir(), f))).digest('hex'));
      expect((await t.lab.execHost('keep', ['sh', '-c', 'wc -c < /var/tmp/bootdev.img'])).stdout.trim()).toBe(String(image.bytes));

      // the old system comes back without a new boot (the reboot did not happen yet): not the new one, nothing restored
      await t.lab.crash('keep');
      await t.lab.startSshd('keep');
      await until('the old system seen', async () => /connected to the system that was running when the new media were written/.test((await towerctl(t.d, ['logs', '-n', '50'])).stdout), 15_000);
      expect((await t.client.call('host.get', { name: 'keep' })).reinstall?.state).toBe('waiting');

      // the reboot: a new boot id, root reset to stock, /home kept, the same keys
      await t.lab.crash('keep');
      const reset = await t.lab.execHost('keep', ['sh', '-c', `echo boot-2 > /run/lab-boot-id && rm -rf ${APK_ROOT} && mkdir -p ${APK_ROOT} && tar -C ${APK_ROOT} -xf /run/stock-root.tar`]);
      expect(reset.code, reset.stderr).toBe(0);
      expect((await t.lab.execHost('keep', ['test', '-e', `${APK_ROOT}/usr/bin/hello`])).code).not.toBe(0);
      await t.lab.startSshd('keep');
      const code = await cli.exited;
      expect(code, cli.out.stderr + cli.out.stdout).toBe(0);
      expect(cli.out.stdout).toMatch(/^keep: 48\.0 MiB written to keep:\/var\/tmp\/bootdev\.img .*verified/m);
      expect(cli.out.stdout).toMatch(/^keep is rebooting into the new system\.$/m);
      expect(cli.out.stdout).toMatch(/^ {2}added {4}hello$/m);
      expect((await t.lab.execHost('keep', ['test', '-e', `${APK_ROOT}/usr/bin/hello`])).code).toBe(0);
      expect((await towerctl(t.d, ['exec', 'keep', '--', 'sh', '-c', 'cat "$HOME/notes.txt"'])).stdout).toBe('written before the reinstall\n');
      expect(readFileSync(kh, 'utf8')).toBe(khBefore);
    } finally {
      if (cli.proc.exitCode === null) cli.proc.kill('SIGKILL');
    }
  }, 180_000);

  it('a failure while writing leaves the host as it was and removes the file it started', async () => {
    const dir = scratchDir('tower-images-');
    const xz = await makeHostImage(dir, { xz: true });
    const data = readFileSync(xz.path);
    for (let i = Math.floor(data.length / 2); i < Math.floor(data.length / 2) + 64; i++) data[i]! ^= 0xff;
    writeFileSync(xz.path, data);
    const snapshot = () => ['tower.env', 'crypto_keyfile.bin', 'id_ed25519', 'world', ...KEYS].map((f) => readFileSync(join(hostDir(), f), 'utf8')).join('\0');
    const before = { files: snapshot(), kh: readFileSync(join(t.lab.home, '.ssh/known_hosts'), 'utf8'), marker: existsSync(join(hostDir(), 'reinstall')) };
    const out = join(dir, 'broken.img');
    const r = await towerctl(t.d, ['reprovision', 'keep', '--image', xz.path, '--to-file', out, '--yes', '--no-wait']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/xz could not decompress .*; keep is unchanged/);
    expect(existsSync(out)).toBe(false);
    expect({ files: snapshot(), kh: readFileSync(join(t.lab.home, '.ssh/known_hosts'), 'utf8'), marker: existsSync(join(hostDir(), 'reinstall')) }).toEqual(before);
    expect(before.marker).toBe(false);
  });

  it('--json --no-wait: the result, and the reinstall waiting in the host info', async () => {
    await t.lab.crash('keep');
    const out = join(scratchDir('tower-img-'), 'keep-2.img');
    const r = await towerctl(t.d, ['reprovision', 'keep', '--image', image.path, '--to-file', out, '--yes', '--no-wait', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as ReprovisionRunResult;
    expect(res.files).toEqual(['tower.env', 'crypto_keyfile.bin', ...KEYS]);
    expect(res.written.verified).toBe(true);
    expect(res.world).toBe(true);
    expect(res.host.reinstall).toMatchObject({ state: 'waiting', target: out, world: null });
    // progress as JSON lines on stderr, the plan too
    expect(r.stderr).toMatch(/"kind":"reprovision"/);
    expect(r.stderr).toMatch(/^reprovision keep \(offline\) at 192\.168\.3\.200/m);
  });

  it('the router away when the host comes back: the restore fails with the reason, and is done as soon as the router is back', async () => {
    // keep was given new media above (--no-wait) and is off; the router goes away before keep boots them
    expect((await t.client.call('host.get', { name: 'keep' })).reinstall?.state).toBe('waiting');
    await t.lab.cut('router');
    try {
      await until('router offline', async () => (await t.client.call('host.get', { name: 'router' })).state !== 'online', 15_000);
      const reset = await t.lab.execHost('keep', ['sh', '-c', `echo boot-3 > /run/lab-boot-id && rm -rf ${APK_ROOT} && mkdir -p ${APK_ROOT} && tar -C ${APK_ROOT} -xf /run/stock-root.tar`]);
      expect(reset.code, reset.stderr).toBe(0);
      await t.lab.startSshd('keep');
      const waiting = await until('the restore to fail for want of the router', async () => {
        const h = await t.client.call('host.get', { name: 'keep' });
        return h.state === 'online' && h.reinstall?.error ? h.reinstall : undefined;
      }, 20_000);
      expect(waiting.state).toBe('failed');
      expect(waiting.error).toMatch(/apk exited with \d+.*; tried again on the next connection or when the router is back/);
      expect(waiting.world).toMatchObject({ missing: ['hello'], relayed: true });
      expect(existsSync(join(hostDir(), 'reinstall'))).toBe(true);
    } finally {
      await t.lab.restore('router');
    }
    // keep stays connected all along: it is the router's return that starts the restore again
    const done = await until('the restore after the router came back', async () => {
      const r = (await t.client.call('host.get', { name: 'keep' })).reinstall;
      return r?.state === 'done' ? r : undefined;
    }, 30_000);
    expect(done).toMatchObject({ state: 'done', error: null, world: { missing: ['hello'], relayed: true, code: 0 } });
    expect((await t.lab.execHost('keep', ['test', '-e', `${APK_ROOT}/usr/bin/hello`])).code).toBe(0);
    expect(existsSync(join(hostDir(), 'reinstall'))).toBe(false);
  }, 120_000);
});
