import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TowerClient } from '../../client/rpc.js';
import type { Event } from '../../protocol/index.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { TOWERCTL, daemonEnv, startDaemon, tempHome, towerctl, type RunningDaemon } from '../helpers/towerd.js';
import { until } from '../helpers/until.js';

const root = process.getuid?.() === 0;

/** every file under dir, relative, sorted */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

describe.skipIf(!root)('the thin client state: export, then import on a new thin client', () => {
  let t: LabDaemon;
  let b: RunningDaemon | undefined;
  const work = mkdtempSync(join(tmpdir(), 'tower-export-test-'));
  const file = join(work, 'usb', 'tower-state.age');
  const pass = join(work, 'pass');
  const wrong = join(work, 'wrong');
  const homeB = tempHome('tower-export-b-');
  const envB = { env: daemonEnv(homeB) };
  const events: Event[] = [];

  beforeAll(async () => {
    t = await labDaemon('ex', { online: 1, offline: 1, router: false });
    writeFileSync(pass, 'correct horse battery staple\n', { mode: 0o600 });
    writeFileSync(wrong, 'incorrect horse battery staple\n', { mode: 0o600 });
    mkdirSync(join(work, 'usb'));
    await t.client.subscribe(['export'], (e) => events.push(e));
  }, 120_000);
  afterAll(async () => {
    await b?.stop();
    await t?.close();
  });

  it('export writes one 0600 age file, and the bar’s warning clears', async () => {
    const before = await t.client.call('status');
    expect(before.stateExport).toMatchObject({ state: 'none', warn: true });
    const r = await towerctl(t.d, ['backup', 'export', file, '--passphrase-file', pass, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { hosts: number; knownHostsLines: number; files: number; towerd: string };
    expect(out).toMatchObject({ hosts: 2, knownHostsLines: 2, towerd: 'current' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const sealed = readFileSync(file);
    expect(sealed.subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
    expect(sealed.includes(readFileSync(join(t.lab.home, '.local/tower/hosts/on1/id_ed25519')).subarray(40, 80))).toBe(false);
    expect((await t.client.call('status')).stateExport).toMatchObject({ state: 'current', warn: false, file });
    await until('the export.state event', () => events.some((e) => e.type === 'export.state' && e.export.state === 'current'), 5000);
  }, 60_000);

  it('a wrong passphrase is refused and writes nothing', async () => {
    const empty = tempHome('tower-export-c-');
    const r = await towerctl({ env: daemonEnv(empty) }, ['backup', 'import', file, '--passphrase-file', wrong]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/wrong passphrase.*nothing was written/);
    expect(readdirSync(empty)).toEqual([]);
  }, 60_000);

  it('import into an empty home brings back a registry with which towerd reaches every host with its pinned keys', async () => {
    const r = await towerctl(envB, ['backup', 'import', file, '--passphrase-file', pass]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^imported 2 hosts \(off1, on1\): \d+ files, 2 known_hosts lines added\ntowerd is not running: start it/);
    const a = join(t.lab.home, '.local/tower');
    const bDir = join(homeB, '.local/tower');
    expect(tree(bDir)).toEqual(tree(a).filter((p) => !p.startsWith('.')));
    for (const p of tree(a).filter((x) => x.startsWith('hosts/'))) {
      expect(readFileSync(join(bDir, p)), p).toEqual(readFileSync(join(a, p)));
      expect(statSync(join(bDir, p)).mode & 0o777, p).toBe(0o600);
    }
    // the keys are found in the new home; the pins are A's lines for the two hosts, no more
    expect(readFileSync(join(bDir, 'config'), 'utf8')).not.toContain(t.lab.home);
    const pinsA = readFileSync(join(t.lab.home, '.ssh/known_hosts'), 'utf8').trim().split('\n');
    const pinsB = readFileSync(join(homeB, '.ssh/known_hosts'), 'utf8').trim().split('\n');
    expect(pinsB.sort()).toEqual(pinsA.filter((l) => /^192\.168\.[23]\.\d+ /.test(l)).sort());

    b = await startDaemon({ home: homeB, spawnPrefix: t.lab.tcSpawnPrefix() });
    const c = await TowerClient.connect(b.socket, { validate: true });
    try {
      const s = await until(
        'both hosts online from the new home',
        async () => {
          const st = await c.call('status');
          // stateExport is absent until towerd's first look at the state, which may come after the hosts
          return st.hosts.length === 2 && st.hosts.every((h) => h.state === 'online') && st.stateExport ? st : undefined;
        },
        30_000,
      );
      expect(s.hosts.map((h) => [h.name, h.state, h.identityFile])).toEqual([
        ['off1', 'online', join(bDir, 'hosts/off1/id_ed25519')],
        ['on1', 'online', join(bDir, 'hosts/on1/id_ed25519')],
      ]);
      // the import is the newest export of this registry: no warning on the new thin client
      expect(s.stateExport).toMatchObject({ state: 'current', warn: false });
      // the pins are what towerd checks: a wrong pin for on1 makes it refuse on1 and only on1
      const kh = join(homeB, '.ssh/known_hosts');
      const other = readFileSync(join(t.lab.home, '.local/tower/hosts/off1/ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
      const on1 = t.lab.host('on1').ip;
      writeFileSync(kh, pinsB.map((l) => (l.startsWith(`${on1} `) ? `${on1} ${other}` : l)).join('\n') + '\n');
      await c.call('host.reconnect', { name: 'on1' });
      await until('on1 refused for its changed pin', async () => (await c.call('host.get', { name: 'on1' })).state === 'hostkey-mismatch', 15_000);
      expect((await c.call('host.get', { name: 'off1' })).state).toBe('online');
      // the changed pin makes the export stale
      expect((await c.call('export.state', {})).state).toBe('stale');
      writeFileSync(kh, pinsB.join('\n') + '\n');
      await c.call('host.reconnect', { name: 'on1' });
      await until('on1 back with its real pin', async () => (await c.call('host.get', { name: 'on1' })).state === 'online', 15_000);
    } finally {
      c.close();
    }
  }, 120_000);

  it('refuses to import over a registry with hosts without --force; with it, the running towerd reloads', async () => {
    const refused = await towerctl(envB, ['backup', 'import', file, '--passphrase-file', pass]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already names hosts: not replaced \(pass --force/);
    const forced = await towerctl(envB, ['backup', 'import', file, '--passphrase-file', pass, '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ hosts: ['off1', 'on1'], knownHostsAdded: 0, knownHostsPresent: 2, towerd: 'reloaded' });
    expect(readFileSync(join(homeB, '.ssh/known_hosts'), 'utf8').trim().split('\n')).toHaveLength(2);
  }, 60_000);
});

describe('the passphrase on a terminal', () => {
  /** towerctl on a pseudo-terminal, typing each answer when a prompt appears; the whole screen comes back */
  async function onTerminal(home: string, args: string[], answers: string[]): Promise<{ code: number; screen: string }> {
    const pty = (await import('node-pty')).default;
    const p = pty.spawn(process.execPath, [TOWERCTL, ...args], { cols: 200, rows: 24, env: daemonEnv(home) });
    let screen = '';
    let prompts = 0;
    p.onData((d) => {
      screen += d;
      const n = (screen.match(/[Pp]assphrase[^:\n]*: |again: /g) ?? []).length;
      while (prompts < n && prompts < answers.length) p.write(`${answers[prompts++]}\r`);
    });
    const code = await new Promise<number>((r) => p.onExit((e) => r(e.exitCode)));
    return { code, screen };
  }

  function fakeRegistry(): string {
    const home = tempHome('tower-export-tty-');
    mkdirSync(join(home, '.local/tower/hosts/web'), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, '.local/tower/config'), 'Host web\n  HostName 192.168.2.200\n');
    writeFileSync(join(home, '.local/tower/hosts/web/id_ed25519'), 'key\n', { mode: 0o600 });
    return home;
  }

  it('is asked twice with no echo; two different answers write nothing', async () => {
    const home = fakeRegistry();
    const out = join(home, 'state.age');
    const secret = 'tr0ub4dor and 3 more words';
    const differ = await onTerminal(home, ['backup', 'export', out], [secret, `${secret}!`]);
    expect(differ.code, differ.screen).toBe(2);
    expect(differ.screen).toMatch(/the two passphrases differ; nothing was written/);
    expect(readdirSync(home)).not.toContain('state.age');
    const ok = await onTerminal(home, ['backup', 'export', out], [secret, secret]);
    expect(ok.code, ok.screen).toBe(0);
    expect(ok.screen).toMatch(/exported 1 host/);
    expect(ok.screen).not.toContain('tr0ub4dor');
    const short = await onTerminal(home, ['backup', 'export', out], ['short']);
    expect(short.code).toBe(2);
    expect(short.screen).toMatch(/fewer than 12 characters/);
    // and the file opens with it, asked once
    const empty = tempHome('tower-export-tty-b-');
    const imp = await onTerminal(empty, ['backup', 'import', out], [secret]);
    expect(imp.code, imp.screen).toBe(0);
    expect(imp.screen).toMatch(/imported 1 host \(web\)/);
    expect(imp.screen).not.toContain('tr0ub4dor');
  }, 60_000);
});
