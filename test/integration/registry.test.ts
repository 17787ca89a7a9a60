import { cpSync, readFileSync, statSync, writeFileSync, appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Status } from '../../protocol/index.js';
import { ROOT, daemonsPerTest, run, tempHome, towerctl, type RunningDaemon } from '../helpers/towerd.js';

const start = daemonsPerTest(afterEach);

async function status(d: RunningDaemon): Promise<Status> {
  const r = await towerctl(d, ['status', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Status;
}

describe('host registry through towerctl', () => {
  it('real OpenSSH resolves what towerctl wrote (ssh -G)', async () => {
    const d = await start();
    expect((await towerctl(d, ['host', 'add', 'router', '--router'])).code).toBe(0);
    const add = await towerctl(d, ['host', 'add', 'work', '--offline', '--user', 'alice']);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/added work \(offline\) at 192\.168\.3\.200, user alice/);
    // ssh reads ~/.ssh of the passwd entry, not $HOME, so point it at the test home's config explicitly
    const g = await run('ssh', ['-F', join(d.home, '.ssh', 'config'), '-G', 'work']);
    expect(g.code, g.stderr).toBe(0);
    const conf = Object.fromEntries(g.stdout.split('\n').map((l) => [l.split(' ')[0], l.slice(l.indexOf(' ') + 1)]));
    expect(conf.hostname).toBe('192.168.3.200');
    expect(conf.user).toBe('alice');
    expect(g.stdout).toContain(`identityfile ${join(d.home, '.local/tower/hosts/work/id_ed25519')}`);
    expect(conf.connecttimeout).toBe('1');
    // the key is a real OpenSSH key: ssh-keygen derives the same public key
    const pub = await run('ssh-keygen', ['-y', '-f', join(d.home, '.local/tower/hosts/work/id_ed25519')]);
    const firstTwo = (s: string) => s.trim().split(/\s+/).slice(0, 2).join(' ');
    expect(pub.code).toBe(0);
    expect(firstTwo(pub.stdout)).toBe(firstTwo(readFileSync(join(d.home, '.local/tower/hosts/work/id_ed25519.pub'), 'utf8')));
    expect(statSync(join(d.home, '.local/tower/hosts/work')).mode & 0o777).toBe(0o700);
    expect(statSync(join(d.home, '.local/tower/hosts/work/id_ed25519')).mode & 0o777).toBe(0o600);
    expect(statSync(join(d.home, '.local/tower/hosts/work/tower.env')).mode & 0o777).toBe(0o600);
    expect(statSync(join(d.home, '.ssh')).mode & 0o777).toBe(0o700);
    expect(statSync(join(d.home, '.ssh/config')).mode & 0o777).toBe(0o600);
    // the include is added once, at the top
    await towerctl(d, ['host', 'add', 'web', '--online']);
    expect(readFileSync(join(d.home, '.ssh/config'), 'utf8')).toBe(`Include ${join(d.home, '.local/tower/config')}\n`);
  });

  it('adds the Include above an existing ~/.ssh/config and keeps it', async () => {
    const home = tempHome();
    mkdirSync(join(home, '.ssh'), { mode: 0o700 });
    writeFileSync(join(home, '.ssh/config'), 'Host *\n  User fallback\n', { mode: 0o600 });
    const d = await start({ home });
    await towerctl(d, ['host', 'add', 'web', '--online']);
    expect(readFileSync(join(home, '.ssh/config'), 'utf8')).toBe(`Include ${join(home, '.local/tower/config')}\n\nHost *\n  User fallback\n`);
    const g = await run('ssh', ['-F', join(home, '.ssh', 'config'), '-G', 'web']);
    expect(g.stdout).toMatch(/^user root$/m);
  });

  it('loads a TowerOS ~/.local/tower as it is: roles, addresses, colours, versions', async () => {
    const home = tempHome();
    cpSync(join(ROOT, 'test/fixtures/toweros-home'), home, { recursive: true });
    const d = await start({ home });
    const s = await status(d);
    expect(s.registry).toMatchObject({ ok: true, hostCount: 4 });
    expect(s.hosts.map((h) => [h.name, h.role, h.ip, h.user, h.color.name, h.version])).toEqual([
      ['router', 'router', '192.168.2.1', 'alice', 'White', 'v0.7.0'],
      ['office', 'offline', '192.168.3.200', 'alice', 'Red', 'v0.7.0'],
      ['vault', 'offline', '192.168.3.202', 'alice', 'Yellow', 'v0.7.0'],
      ['web', 'online', '192.168.2.200', 'alice', 'Green', 'v0.7.0'],
    ]);
    expect(s.hosts[1]!.identityFile).toBe(join(home, '.local/tower/hosts/office/id_ed25519'));
    const table = await towerctl(d, ['status']);
    expect(table.stdout).toMatch(/^office\s+offline\s+192\.168\.3\.200\s+unsupervised/m);
    // the next offline host fills the gap TowerOS's allocator left
    const add = await towerctl(d, ['host', 'add', 'notes', '--offline', '--json']);
    expect(JSON.parse(add.stdout)).toMatchObject({ host: { ip: '192.168.3.201' } });
  });

  it('picks up hand edits live; an invalid edit keeps the last good registry and is reported', async () => {
    const d = await start();
    await towerctl(d, ['host', 'add', 'web', '--online']);
    const config = join(d.home, '.local/tower/config');
    appendFileSync(config, '\nHost mail\n  HostName 192.168.2.230\n  User bob\n');
    await expect.poll(async () => (await status(d)).hosts.map((h) => h.name), { timeout: 5000 }).toEqual(['mail', 'web']);
    expect((await status(d)).hosts[0]).toMatchObject({ role: 'online', user: 'bob' });

    appendFileSync(config, '\nHost Bad_Name\n  HostName 192.168.2.231\n');
    await expect.poll(async () => (await status(d)).registry.ok, { timeout: 5000 }).toBe(false);
    const s = await status(d);
    expect(s.registry.error).toMatch(/config:\d+: host name "Bad_Name"/);
    expect(s.hosts.map((h) => h.name)).toEqual(['mail', 'web']);
    const table = await towerctl(d, ['status']);
    expect(table.stdout).toMatch(/registry: the last edit on disk is invalid and was not applied/);
    expect(d.stderr()).toMatch(/registry on disk is invalid; keeping the last good one/);
    // writes are refused while the disk state is invalid, rather than overwriting the user's edit
    const add = await towerctl(d, ['host', 'add', 'other', '--online']);
    expect(add.code).toBe(1);
    expect(add.stderr).toMatch(/registry on disk is invalid; fix it first/);

    writeFileSync(config, readFileSync(config, 'utf8').replace('Bad_Name', 'good'));
    await expect.poll(async () => (await status(d)).registry.ok, { timeout: 5000 }).toBe(true);
    expect((await status(d)).hosts.map((h) => h.name)).toEqual(['good', 'mail', 'web']);

    // an invalid tower.env is caught too, with its path
    writeFileSync(join(d.home, '.local/tower/hosts/web/tower.env'), "ONLINE='maybe'\n");
    await expect.poll(async () => (await status(d)).registry.error ?? '', { timeout: 5000 }).toMatch(/web\/tower\.env: ONLINE/);
  });

  it('host rm removes its block, only its own known_hosts lines and its folder', async () => {
    const d = await start();
    await towerctl(d, ['host', 'add', 'router', '--router']);
    await towerctl(d, ['host', 'add', 'web', '--online']);
    const kh = join(d.home, '.ssh/known_hosts');
    const other = '192.168.2.2000 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKS4bsNVrCI782R9ftlic6B/aBeKSQ0GuYu3xHUDmg3L\n';
    const wildcard = '192.168.2.* ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJLfE5NtznONT8sBceal/9hHkgUPiz+PltIpxIVuM5H6\n';
    writeFileSync(kh, `192.168.2.200 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID/Yu18JiLJ8+YawJC50lOoFv77hbWxF94Q6JLlTbydm\n${other}web ssh-rsa AAAAB3NzaC1yc2E\n${wildcard}`);
    const refused = await towerctl(d, ['host', 'rm', 'web']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/pass --yes/);
    const r = await towerctl(d, ['host', 'rm', 'web', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/2 known_hosts line\(s\)/);
    expect(readFileSync(kh, 'utf8')).toBe(other + wildcard);
    expect(readFileSync(join(d.home, '.local/tower/config'), 'utf8')).not.toMatch(/web/);
    expect(readFileSync(join(d.home, '.local/tower/config'), 'utf8')).toMatch(/^Host router$/m);
    expect(() => statSync(join(d.home, '.local/tower/hosts/web'))).toThrow();
    const gone = await towerctl(d, ['host', 'show', 'web']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/no host named web/);
  });

  it('exit codes: usage 2, daemon unreachable 3, refused request 1', async () => {
    const d = await start();
    expect((await towerctl(d, ['host', 'add', 'Bad', '--online'])).code).toBe(2);
    expect((await towerctl(d, ['host', 'add', 'x'])).code).toBe(2);
    expect((await towerctl(d, ['host', 'add', 'x', '--online', '--offline'])).code).toBe(2);
    expect((await towerctl(d, ['frobnicate'])).code).toBe(2);
    expect((await towerctl(d, ['host', 'add', 'router', '--online'])).code).toBe(1);
    await towerctl(d, ['host', 'add', 'a', '--online']);
    const dup = await towerctl(d, ['host', 'add', 'a', '--offline']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/host a already exists/);
    const taken = await towerctl(d, ['host', 'add', 'b', '--online', '--ip', '192.168.2.200']);
    expect(taken.stderr).toMatch(/192\.168\.2\.200 is already used/);
    expect((await towerctl(d, ['--help'])).code).toBe(0);
    expect((await towerctl(d, ['host', 'add', '--help'])).stdout).toMatch(/Examples:/);
    await d.stop();
    const down = await towerctl(d, ['status']);
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/cannot reach towerd at .* towerd is not running/);
  });

  it('a full network is a clear error', async () => {
    const home = tempHome();
    mkdirSync(join(home, '.config/tower'), { recursive: true });
    writeFileSync(join(home, '.config/tower/towerd.json'), JSON.stringify({ firstHostOctet: 250, lastHostOctet: 251 }));
    const d = await start({ home });
    expect((await towerctl(d, ['host', 'add', 'a', '--offline'])).code).toBe(0);
    expect((await towerctl(d, ['host', 'add', 'b', '--offline'])).code).toBe(0);
    const full = await towerctl(d, ['host', 'add', 'c', '--offline']);
    expect(full.code).toBe(1);
    expect(full.stderr).toMatch(/offline network 192\.168\.3\.0\/24 is full: all 2 host addresses \(\.250–\.251\) are taken/);
  });

  it('copies a given ed25519 key and refuses other key types', async () => {
    const d = await start();
    const keyDir = tempHome('keys-');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'k')]);
    await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', join(keyDir, 'r')]);
    const ok = await towerctl(d, ['host', 'add', 'web', '--online', '--key', join(keyDir, 'k'), '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ generatedKey: false });
    expect(readFileSync(join(d.home, '.local/tower/hosts/web/id_ed25519'), 'utf8')).toBe(readFileSync(join(keyDir, 'k'), 'utf8'));
    const rsa = await towerctl(d, ['host', 'add', 'mail', '--online', '--key', join(keyDir, 'r')]);
    expect(rsa.code).toBe(1);
    expect(rsa.stderr).toMatch(/holds a ssh-rsa key; Tower hosts use ed25519 keys/);
  });
});
