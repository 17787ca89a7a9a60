import { spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArchiveError, MAX_FILE_BYTES, checkArchive, configAddresses, encodeArchive, pathProblem, relocateIdentityFiles, stateDigest, type StateArchive } from '../../daemon/shared/export/archive.js';
import { WrongPassphraseError, decryptState, encryptState } from '../../daemon/shared/export/crypto.js';
import { RegistryExistsError, UnsafePathError, collectState, exportStatus, restoreState, writeExportRecord } from '../../daemon/shared/export/disk.js';
import { resolvePaths } from '../../daemon/shared/paths.js';

const KEY = 'AAAAC3NzaC1lZDI1NTE5AAAAIGJ1bXBzdGVyYnVtcHN0ZXJidW1wc3RlcmJ1bXA=';
const CONFIG = 'Host web\n  HostName 192.168.2.200\n  User alice\n\nHost work\n  HostName 192.168.3.200\n';

function archive(extra: Partial<StateArchive> = {}): StateArchive {
  return {
    createdAt: '2026-12-01T10:00:00.000Z',
    files: [
      { path: 'config', data: Buffer.from(CONFIG) },
      { path: 'hosts/web/id_ed25519', data: Buffer.from('private key\n') },
      { path: 'hosts/web/tower.env', data: Buffer.from("HOSTNAME='web'\n") },
    ],
    knownHosts: [`192.168.2.200 ssh-ed25519 ${KEY}`],
    settings: '{"ssh":{"port":22}}',
    ...extra,
  };
}

/** the archive document as JSON, to be edited into hostile shapes */
function doc(a = archive()): Record<string, unknown> & { files: Record<string, unknown>[] } {
  return JSON.parse(encodeArchive(a).toString()) as never;
}
const bytes = (d: unknown) => Buffer.from(JSON.stringify(d));
function problems(d: unknown): string[] {
  try {
    checkArchive(bytes(d));
  } catch (err) {
    if (err instanceof ArchiveError) return err.problems;
    throw err;
  }
  return [];
}

describe('the export archive checker', () => {
  it('reads back what encodeArchive wrote', () => {
    const a = archive();
    const back = checkArchive(encodeArchive(a));
    expect(back).toEqual(a);
    expect(stateDigest(back)).toBe(stateDigest(a));
  });

  it.each([
    ['../x', /`\.\.`/],
    ['hosts/web/../../../.bashrc', /`\.\.`/],
    ['/etc/passwd', /absolute/],
    ['hosts/web/sub/key', /not `NAME` or `hosts\/HOST\/NAME`/],
    ['.ssh', /plain file name/],
    ['hosts/Web_1/key', /not a host name/],
    ['export.json', /written by the import/],
    ['hosts', /hosts folder/],
    ['a\\b', /backslash/],
  ])('refuses the path %s', (path, why) => {
    const d = doc();
    d.files.push({ path, type: 'file', data: 'eA==' });
    const p = problems(d);
    expect(p.length).toBe(1);
    expect(p[0]).toMatch(why);
    expect(pathProblem(path)).toBeDefined();
  });

  it('refuses a symlink, a folder or any entry that is not a regular file', () => {
    const d = doc();
    d.files.push({ path: 'hosts/web/link', type: 'symlink', data: Buffer.from('/etc/shadow').toString('base64') });
    d.files.push({ path: 'hosts/web/dir', type: 'directory', data: '' });
    expect(problems(d)).toEqual([expect.stringMatching(/link.*a symlink, not a regular file/), expect.stringMatching(/dir.*a directory, not a regular file/)]);
  });

  it('refuses an oversized file before decoding it, and a file list over the total cap', () => {
    const d = doc();
    d.files.push({ path: 'hosts/web/big', type: 'file', data: Buffer.alloc(MAX_FILE_BYTES + 1).toString('base64') });
    expect(problems(d)).toEqual([expect.stringMatching(/big.*over the 1048576-byte cap/)]);
    const many = doc();
    for (let i = 0; i < 33; i++) many.files.push({ path: `hosts/h${i}/f`, type: 'file', data: Buffer.alloc(MAX_FILE_BYTES).toString('base64') });
    expect(problems(many).join()).toMatch(/in all, over the .*-byte cap/);
  });

  it('refuses duplicates, unknown fields, bad base64, a missing config and foreign known_hosts lines', () => {
    const d = doc();
    d.files.push({ path: 'hosts/web/tower.env', type: 'file', data: 'eA==' });
    d.files.push({ path: 'hosts/web/x', type: 'file', data: 'not base64!', mode: 0o4755 });
    d.extra = 1;
    d.knownHosts = [...(d.knownHosts as string[]), `github.com ssh-ed25519 ${KEY}`, `192.168.2.* ssh-ed25519 ${KEY}`, 'two\nlines'];
    const p = problems(d).join('\n');
    expect(p).toMatch(/tower\.env.*twice/);
    expect(p).toMatch(/x.*unknown fields/);
    expect(p).toMatch(/x.*not base64/);
    expect(p).toMatch(/unknown field "extra"/);
    expect(p).toMatch(/knownHosts\[1\]: names none of the archive's hosts/);
    expect(p).toMatch(/knownHosts\[2\]: names none/);
    expect(p).toMatch(/knownHosts\[3\]: not one line/);
    const noConfig = doc();
    noConfig.files = noConfig.files.filter((f) => f.path !== 'config');
    expect(problems(noConfig).join()).toMatch(/no registry `config`/);
    expect(() => checkArchive(Buffer.from('garbage'))).toThrow(/not a Tower state export/);
  });

  it('accepts a hashed pin and a pin on the port towerd.json sets', () => {
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[192.168.3.200]:2222').digest('base64')}`;
    const a = archive({ settings: '{"ssh":{"port":2222}}', knownHosts: [`${hashed} ssh-ed25519 ${KEY}`, `[192.168.2.200]:2222 ssh-ed25519 ${KEY}`] });
    expect(checkArchive(encodeArchive(a)).knownHosts).toHaveLength(2);
  });

  it('reads hosts and addresses from the registry config', () => {
    expect(configAddresses(`${CONFIG}Host *\n  User x\nHost a b\n  HostName 1.2.3.4\nHost=c\n  hostname = 10.0.0.1\n`)).toEqual([
      { name: 'web', address: '192.168.2.200' },
      { name: 'work', address: '192.168.3.200' },
      { name: 'c', address: '10.0.0.1' },
    ]);
  });
});

describe('key paths of another home', () => {
  it('point into this home after an import, for keys the archive holds only', () => {
    const config = [
      'Host web',
      '  IdentityFile /home/alice/.local/tower/hosts/web/id_ed25519',
      'Host work',
      '  identityfile="/home/alice/.local/tower/hosts/work/id_ed25519"',
      'Host old',
      '  IdentityFile ~/.local/tower/hosts/old/id_ed25519',
      '  IdentityFile /home/alice/.local/tower/hosts/gone/id_ed25519',
      '  IdentityFile /etc/ssh/other',
    ].join('\n');
    const has = new Set(['hosts/web/id_ed25519', 'hosts/work/id_ed25519', 'hosts/old/id_ed25519']);
    expect(relocateIdentityFiles(config, '/home/bob/.local/tower/hosts', (p) => has.has(p)).split('\n')).toEqual([
      'Host web',
      '  IdentityFile /home/bob/.local/tower/hosts/web/id_ed25519',
      'Host work',
      '  identityfile=/home/bob/.local/tower/hosts/work/id_ed25519',
      'Host old',
      '  IdentityFile ~/.local/tower/hosts/old/id_ed25519',
      '  IdentityFile /home/alice/.local/tower/hosts/gone/id_ed25519',
      '  IdentityFile /etc/ssh/other',
    ]);
  });
});

describe('the export file', () => {
  it('is age: a wrong passphrase is refused, the right one gives the archive back', async () => {
    const plain = encodeArchive(archive());
    const sealed = await encryptState(plain, 'correct horse battery staple', 10);
    expect(Buffer.from(sealed.subarray(0, 22)).toString()).toBe('age-encryption.org/v1\n');
    expect(Buffer.from(sealed).includes(Buffer.from('private key'))).toBe(false);
    await expect(decryptState(sealed, 'correct horse battery stapl')).rejects.toBeInstanceOf(WrongPassphraseError);
    expect(Buffer.from(await decryptState(sealed, 'correct horse battery staple'))).toEqual(plain);
  });

  const hasAge = spawnSync('age', ['--version']).status === 0;
  it.skipIf(!hasAge)('decrypts with the age command-line tool (on a terminal, as age asks for passphrases)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tower-age-'));
    const plain = encodeArchive(archive());
    writeFileSync(join(dir, 'x.age'), await encryptState(plain, 'correct horse battery staple', 12));
    const pty = (await import('node-pty')).default;
    const p = pty.spawn('age', ['-d', '-o', join(dir, 'out'), join(dir, 'x.age')], { cols: 80, rows: 24, env: { PATH: process.env.PATH ?? '' } });
    let screen = '';
    let sent = false;
    p.onData((d) => {
      screen += d;
      if (!sent && /passphrase/i.test(screen)) {
        sent = true;
        p.write('correct horse battery staple\r');
      }
    });
    const code = await new Promise<number>((r) => p.onExit((e) => r(e.exitCode)));
    expect(code, screen).toBe(0);
    expect(readFileSync(join(dir, 'out'))).toEqual(plain);
  }, 30_000);
});

function home(): { dir: string; paths: ReturnType<typeof resolvePaths> } {
  const dir = mkdtempSync(join(tmpdir(), 'tower-export-'));
  return { dir, paths: resolvePaths({ HOME: dir }) };
}

function registry(paths: ReturnType<typeof resolvePaths>): void {
  mkdirSync(join(paths.hostsDir, 'web'), { recursive: true, mode: 0o700 });
  writeFileSync(paths.registry, CONFIG);
  writeFileSync(join(paths.hostsDir, 'web', 'id_ed25519'), 'private key\n', { mode: 0o600 });
  writeFileSync(join(paths.hostsDir, 'web', 'updates.json'), '{}');
  mkdirSync(paths.sshDir, { recursive: true });
  const salt = randomBytes(20);
  const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('192.168.3.200').digest('base64')}`;
  writeFileSync(
    paths.knownHosts,
    [`192.168.2.200 ssh-ed25519 ${KEY}`, `${hashed} ssh-ed25519 ${KEY}`, `github.com ssh-ed25519 ${KEY}`, `192.168.2.* ssh-rsa ${KEY}`, `web ssh-ed25519 ${KEY}`, `@revoked 192.168.3.* ssh-ed25519 ${KEY}`, ''].join('\n'),
  );
}

describe('collecting and restoring the thin client state', () => {
  it('takes the registry files and only Tower’s known_hosts lines; links are left out and named', async () => {
    const { paths } = home();
    registry(paths);
    symlinkSync('/etc/passwd', join(paths.hostsDir, 'web', 'evil'));
    const c = await collectState(paths);
    expect(c.files.map((f) => f.path)).toEqual(['config', 'hosts/web/id_ed25519', 'hosts/web/updates.json']);
    expect(c.skipped).toEqual([{ path: 'hosts/web/evil', why: 'a symbolic link' }]);
    expect(c.knownHosts).toHaveLength(3); // the plain pin, the hashed pin and the revocation matching 192.168.3.200
    expect(c.knownHosts.some((l) => l.startsWith('github.com') || l.startsWith('web ') || l.startsWith('192.168.2.*'))).toBe(false);
    expect(c.hostCount).toBe(2);
  });

  it('restores into an empty home with private modes, and refuses a registry with hosts unless forced', async () => {
    const a = home();
    registry(a.paths);
    const c = await collectState(a.paths);
    const arch = checkArchive(encodeArchive({ createdAt: new Date().toISOString(), files: c.files, knownHosts: c.knownHosts, settings: c.settings }));
    const b = home();
    const r = await restoreState(b.paths, arch, { force: false });
    expect(r).toMatchObject({ files: 3, hosts: ['web', 'work'], knownHostsAdded: 3, settings: 'none', sshInclude: true });
    expect(readFileSync(join(b.paths.hostsDir, 'web', 'id_ed25519'), 'utf8')).toBe('private key\n');
    for (const d of [b.paths.towerDir, b.paths.hostsDir, join(b.paths.hostsDir, 'web'), b.paths.sshDir]) expect(statSync(d).mode & 0o777).toBe(0o700);
    for (const f of [b.paths.registry, join(b.paths.hostsDir, 'web', 'id_ed25519'), b.paths.knownHosts]) expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(readFileSync(b.paths.sshConfig, 'utf8')).toBe(`Include ${b.paths.registry}\n`);
    await expect(restoreState(b.paths, arch, { force: false })).rejects.toBeInstanceOf(RegistryExistsError);
    // forced again: known_hosts lines are merged, not duplicated
    const again = await restoreState(b.paths, arch, { force: true });
    expect(again).toMatchObject({ knownHostsAdded: 0, knownHostsPresent: 3, sshInclude: false });
    expect(readFileSync(b.paths.knownHosts, 'utf8').trim().split('\n')).toHaveLength(3);
  });

  it('makes the export’s pins the pins of its addresses; other lines stay', async () => {
    const b = home();
    mkdirSync(b.paths.sshDir, { recursive: true, mode: 0o700 });
    const old = KEY.replace('A=', 'B=');
    const other = `192.168.2.201 ssh-ed25519 ${old}`;
    writeFileSync(b.paths.knownHosts, [`192.168.2.200,web ssh-ed25519 ${old}`, other, `@revoked 192.168.2.200 ssh-ed25519 ${old}`, `192.168.2.* ssh-rsa ${old}`, ''].join('\n'));
    const r = await restoreState(b.paths, archive(), { force: false });
    expect(r).toMatchObject({ knownHostsAdded: 1, knownHostsPresent: 0, knownHostsReplaced: 1 });
    expect(readFileSync(b.paths.knownHosts, 'utf8').split('\n')).toEqual([
      other,
      `@revoked 192.168.2.200 ssh-ed25519 ${old}`,
      `192.168.2.* ssh-rsa ${old}`,
      `192.168.2.200 ssh-ed25519 ${KEY}`,
      '',
    ]);
  });

  it('keeps an existing towerd.json unless forced', async () => {
    const b = home();
    mkdirSync(join(b.dir, '.config', 'tower'), { recursive: true });
    writeFileSync(b.paths.settings, '{"supervise":false}');
    const arch = archive();
    expect((await restoreState(b.paths, arch, { force: false })).settings).toBe('kept');
    expect(readFileSync(b.paths.settings, 'utf8')).toBe('{"supervise":false}');
    expect((await restoreState(b.paths, arch, { force: true })).settings).toBe('written');
    expect(readFileSync(b.paths.settings, 'utf8')).toBe(arch.settings);
  });

  it('does not write through a link planted where a folder or file of the registry goes', async () => {
    const b = home();
    const elsewhere = mkdtempSync(join(tmpdir(), 'tower-elsewhere-'));
    mkdirSync(b.paths.towerDir, { recursive: true, mode: 0o700 });
    symlinkSync(elsewhere, b.paths.hostsDir);
    await expect(restoreState(b.paths, archive(), { force: false })).rejects.toBeInstanceOf(UnsafePathError);
    expect(readdirSync(elsewhere)).toEqual([]);
    const c = home();
    mkdirSync(c.paths.sshDir, { recursive: true, mode: 0o700 });
    symlinkSync(join(elsewhere, 'kh'), c.paths.knownHosts);
    await expect(restoreState(c.paths, archive(), { force: false })).rejects.toBeInstanceOf(UnsafePathError);
    expect(existsSync(join(elsewhere, 'kh'))).toBe(false);
  });

  it('says whether an export holds the registry as it is now', async () => {
    const { paths } = home();
    expect((await exportStatus(paths)).state).toBe('no-hosts');
    registry(paths);
    expect((await exportStatus(paths)).state).toBe('none');
    const c = await collectState(paths);
    await writeExportRecord(paths, { version: 1, at: new Date().toISOString(), file: '/x.age', digest: stateDigest(c), registryChangedAt: null });
    expect(await exportStatus(paths)).toMatchObject({ state: 'current', file: '/x.age' });
    // a state file towerd rewrites changes nothing; a key, a pin or towerd.json does
    writeFileSync(join(paths.hostsDir, 'web', 'updates.json'), '{"last":1}');
    expect((await exportStatus(paths)).state).toBe('current');
    writeFileSync(join(paths.hostsDir, 'web', 'id_ed25519'), 'another key\n');
    const stale = await exportStatus(paths);
    expect(stale.state).toBe('stale');
    expect(Date.parse(stale.registryChangedAt!)).toBeGreaterThan(0);
    writeFileSync(join(paths.hostsDir, 'web', 'id_ed25519'), 'private key\n');
    expect((await exportStatus(paths)).state).toBe('current');
    writeFileSync(paths.knownHosts, `192.168.2.200 ssh-ed25519 ${KEY.replace('A=', 'B=')}\n`);
    expect((await exportStatus(paths)).state).toBe('stale');
  });

  it('carries a backup set’s repository key; the backup, files and reinstall state towerd rewrites is no registry change', async () => {
    const { paths } = home();
    registry(paths);
    writeFileSync(join(paths.hostsDir, 'web', 'backup-home.key'), 'k'.repeat(43) + '=\n', { mode: 0o600 });
    const c = await collectState(paths);
    expect(c.files.map((f) => f.path)).toContain('hosts/web/backup-home.key');
    expect(c.skipped).toEqual([]);
    await writeExportRecord(paths, { version: 1, at: new Date().toISOString(), file: '/x.age', digest: stateDigest(c), registryChangedAt: null });
    writeFileSync(join(paths.hostsDir, 'web', 'backup.json'), '{"sets":[]}');
    writeFileSync(join(paths.hostsDir, 'web', 'reinstall'), '{}');
    writeFileSync(join(paths.towerDir, 'files.log'), '{}\n');
    writeFileSync(join(paths.towerDir, 'files-pending.json'), '[]');
    expect((await exportStatus(paths)).state).toBe('current');
    writeFileSync(join(paths.hostsDir, 'web', 'backup-home.key'), 'j'.repeat(43) + '=\n', { mode: 0o600 });
    expect((await exportStatus(paths)).state).toBe('stale');
  });
});
