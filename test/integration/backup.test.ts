// Backups for real: restic (Debian's 0.14, standing in for Alpine's `apk add restic` on the lab's Alpine-like hosts)
// on the offline host off1 backs up its home onto the online host on1, which it can only reach through towerd: a
// loopback remote forward on off1 joined to on1's sftp subsystem, every request checked against the repository
// folder. The first backup comes from the schedule; a file restored from it is byte-identical; on1 holds nothing but
// restic's encrypted layout; cutting on1's cable mid-run leaves a repository that `restic check` passes and the next
// run succeeds; a set older than its target shows in `status --json` and the bar.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupSetInfo, Status } from '../../protocol/index.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { TOWERCTL, startTowerctl, towerctl } from '../helpers/towerd.js';
import { until } from '../helpers/until.js';
import { APK_ROOT, defaultProfile } from '../lab/profile.js';

const root = process.getuid?.() === 0;
let t: LabDaemon;
let home = '';
const MARK = `tower-plaintext-${process.pid}-never-leaves-off1`;
const FOLDER = 'tower-backups/off1';

function settings(backup: object): void {
  writeFileSync(join(t.lab.home, '.config', 'tower', 'towerd.json'), JSON.stringify({ backup: { settleMs: 0, retry: { initialMs: 600_000, capMs: 600_000 }, ...backup } }));
}
async function reload(): Promise<void> {
  const r = await towerctl(t.d, ['daemon', 'reload']);
  expect(r.code, r.stderr).toBe(0);
}
const sh = async (host: string, script: string, input?: string) => {
  const r = await t.lab.execHost(host, ['sh', '-c', `cd && ${script}`], { user: 'tower', ...(input === undefined ? {} : { input }) });
  if (r.code !== 0) throw new Error(`${host}: ${script}: ${r.code} ${r.stderr}`);
  return r.stdout;
};
async function sets(): Promise<BackupSetInfo[]> {
  const r = await towerctl(t.d, ['backup', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { sets: BackupSetInfo[] }).sets;
}
const keyFile = () => join(t.lab.home, '.local', 'tower', 'hosts', 'off1', 'backup-home.key');
/** `restic check` run on the storage host itself, on the repository folder, with the key from the thin client */
const checkOnStorage = () =>
  t.lab.execHost('on1', ['sh', '-c', `RESTIC_PASSWORD=$(cat); export RESTIC_PASSWORD; /usr/bin/restic -r "$HOME/${FOLDER}" --no-cache --no-lock check`], { user: 'tower', input: readFileSync(keyFile(), 'utf8').trim() });

async function logsOnFailure<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    process.stderr.write('towerd log on failure:\n' + (await towerctl(t.d, ['logs', '-n', '40', '--level', 'debug'])).stdout + '\n');
    process.stderr.write('towerd stderr (last 4000 characters):\n' + t.d.stderr().slice(-4000) + '\n');
    throw e;
  }
}

/** The first status line `towerctl bar` prints (waybar format: one JSON object per host). */
function firstBarLine(): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [TOWERCTL, 'bar', '--format', 'i3bar'], { env: { ...t.d.env, NO_COLOR: '1' } });
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`no status line from towerctl bar: ${out}`));
    }, 10_000);
    proc.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const lines = out.split('\n').filter((l) => l.startsWith('[{') || l.startsWith(',[{'));
      if (lines.length) {
        clearTimeout(timer);
        proc.kill('SIGTERM');
        resolve(lines[0]!.replace(/^,/, ''));
      }
    });
  });
}

describe.skipIf(!root)('towerctl backup (lab)', () => {
  beforeAll(async () => {
    t = await labDaemon('bk', { online: 1, offline: 1 }, { backup: { settleMs: 0 } });
    // `apk add restic` on an Alpine host; the lab's hosts see this machine's /usr/bin
    const bin = defaultProfile() === 'alpine' ? `${APK_ROOT}/usr/bin` : '/usr/local/bin';
    for (const h of ['off1', 'on1']) {
      const r = await t.lab.execHost(h, ['sh', '-c', `mkdir -p ${bin} && ln -sf /usr/bin/restic ${bin}/restic`]);
      if (r.code !== 0) throw new Error(`restic on ${h}: ${r.stderr}`);
    }
    home = (await sh('off1', 'cd && pwd -P')).trim();
    await sh('off1', `mkdir -p docs && for i in 1 2 3 4 5 6 7 8; do echo "${MARK} line $i"; done > docs/secret.txt && head -c 3000000 /dev/urandom > docs/blob.bin`);
    await sh('on1', 'mkdir -p keep && echo untouched > keep/note.txt');
  }, 90_000);
  afterAll(async () => {
    await t?.close();
  });

  it('backs up the offline host’s home on schedule, and restores one file byte-identical', () =>
    logsOnFailure(async () => {
      // before any set: no backup field; a set with no backup yet is stale
      settings({ sets: [{ host: 'off1', storage: { host: 'on1', folder: FOLDER }, everyHours: 100, maxAgeHours: 48 }] });
      await reload();
      const first = await until('the scheduled backup', async () => (await sets()).find((s) => s.lastOkAt !== null || s.failures > 0), 120_000, 500);
      expect(first.last, JSON.stringify(first)).toMatchObject({ trigger: 'schedule', result: 'ok' });
      expect(first).toMatchObject({ host: 'off1', set: 'home', snapshots: 1, stale: false, failures: 0 });
      expect(first.last!.dataAdded).toBeGreaterThan(3_000_000 * 0.9);
      expect(readFileSync(keyFile(), 'utf8')).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
      expect((await import('node:fs')).statSync(keyFile()).mode & 0o777).toBe(0o600);

      const r = await towerctl(t.d, ['backup', 'restore', 'off1', '--path', `${home}/docs/secret.txt`, '--json']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const res = JSON.parse(r.stdout) as { target: string; result: string };
      expect(res.result).toBe('ok');
      expect(res.target).toMatch(new RegExp(`^${home}/TowerRestore/[0-9a-f]{8}-\\d{8}-\\d{6}$`));
      const [a, b] = (await sh('off1', `sha256sum docs/secret.txt "${res.target}${home}/docs/secret.txt"`)).trim().split('\n').map((l) => l.split(/\s+/)[0]);
      expect(a).toBe(b);
      // only the path asked for came back
      expect((await sh('off1', `cd "${res.target}" && find . -type f`)).trim()).toBe(`.${home}/docs/secret.txt`);
      // never over an existing folder
      const again = await towerctl(t.d, ['backup', 'restore', 'off1', '--to', 'docs']);
      expect(again.code).not.toBe(0);
      expect(again.stderr).toMatch(/exists already/);
    }));

  it('leaves only restic’s encrypted repository on the storage host', async () => {
    const files = (await sh('on1', `cd "$HOME/${FOLDER}" && find . -type f | sort`)).trim().split('\n');
    expect(files.length).toBeGreaterThan(4);
    for (const f of files) expect(f).toMatch(/^\.\/(config|(data\/[0-9a-f]{2}|index|keys|snapshots|locks)\/[0-9a-f]{64})$/);
    // the plaintext is nowhere on on1: not in the repository, not anywhere else in its home
    const grep = await t.lab.execHost('on1', ['sh', '-c', `grep -r -l -F "${MARK}" "$HOME" /tmp 2>/dev/null; echo "rc=$?"`], { user: 'tower' });
    expect(grep.stdout.trim()).toBe('rc=1');
    // nothing else arrived in on1's home: the repository folder and what was there before
    expect((await sh('on1', 'cd && find . -path ./tower-backups -prune -o -type f -print | grep -v "^./\\.cache/" | sort')).trim().split('\n')).toEqual(['./keep/note.txt']);
  });

  it('keeps the repository consistent when the storage host’s cable is cut mid-run, and the next run succeeds', () =>
    logsOnFailure(async () => {
      await sh('off1', 'head -c 200000000 /dev/urandom > docs/big.bin');
      const run = startTowerctl(t.d, ['backup', 'off1', '--run', '--json']);
      await until('the run under way', async () => {
        const s = (await sets())[0]!;
        // restic reads far faster than it uploads: soon after the first bytes, most of them are still to go
        return s.running === 'backup' && s.progress !== null && s.progress.bytesDone > 5_000_000;
      }, 60_000, 100);
      // the password is in no process's arguments on off1 while restic runs, nor in a file in its home (restic's cache
      // is there); only in restic's environment (readable by the same user and root)
      const key = readFileSync(keyFile(), 'utf8').trim();
      const procs = await t.lab.execHost('off1', ['sh', '-c', 'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline; echo; done']);
      // restic's sftp.command is the python3 pipe (backup.netcat "auto"), written to a private temporary folder
      expect(procs.stdout).toMatch(/restic -o sftp\.command=python3 \/\S+\/pipe\.py 127\.0\.0\.1 \d+ --json backup/);
      expect(procs.stdout).toMatch(/python3 \/\S+\/pipe\.py 127\.0\.0\.1 \d+/);
      expect(procs.stdout).not.toContain(key);
      const env = await t.lab.execHost('off1', ['sh', '-c', 'for p in $(pgrep -x restic); do tr "\\0" "\\n" < /proc/$p/environ; done | grep -c "^RESTIC_PASSWORD="']);
      expect(Number(env.stdout.trim())).toBeGreaterThan(0);
      const onDisk = await t.lab.execHost('off1', ['sh', '-c', `grep -r -D skip -l -F "${key}" "${home}" /run/alpine 2>/dev/null; echo "rc=$?"`]);
      expect(onDisk.stdout.trim()).toBe('rc=1');
      await t.lab.cut('on1');
      const code = await Promise.race([run.exited, new Promise((r) => setTimeout(() => r('still running'), 60_000))]);
      expect(code, run.out.stdout + run.out.stderr).toBe(4);
      expect(JSON.parse(run.out.stdout)).toMatchObject([{ host: 'off1', result: 'failed' }]);
      await t.lab.restore('on1');
      await until('on1 back', async () => (await t.client.call('status')).hosts.find((h) => h.name === 'on1')?.state === 'online', 30_000, 100);
      // restic check through towerd (its stale lock from the cut run is removed first), then on the storage host itself
      const v = await towerctl(t.d, ['backup', 'verify', 'off1', '--json']);
      expect(v.code, v.stderr + v.stdout).toBe(0);
      const check = await checkOnStorage();
      expect(check.code, check.stdout + check.stderr).toBe(0);
      expect(check.stdout).toMatch(/no errors were found/);
      const next = await t.client.call('backup.run', { hosts: ['off1'] });
      expect(next.results).toMatchObject([{ host: 'off1', result: 'ok' }]);
      const s = (await sets())[0]!;
      expect(s).toMatchObject({ failures: 0, snapshots: 2 });
      expect(s.lastVerify).toMatchObject({ result: 'ok', trigger: 'manual' });
      expect((await checkOnStorage()).code).toBe(0);
    }));

  it('shows a set older than its target in status --json and the bar', async () => {
    settings({ sets: [{ host: 'off1', storage: { host: 'on1', folder: FOLDER }, everyHours: 100, maxAgeHours: 0.001 }] });
    await reload();
    await new Promise((r) => setTimeout(r, 4000));
    const st = JSON.parse((await towerctl(t.d, ['status', '--json'])).stdout) as Status;
    expect(st.hosts.find((h) => h.name === 'off1')?.backup).toMatchObject({ sets: 1, stale: true, running: false });
    expect(st.hosts.find((h) => h.name === 'on1')?.backup).toBeUndefined();
    const bar = JSON.parse(await firstBarLine()) as { name?: string; instance?: string; full_text: string; color?: string }[];
    const off1 = bar.find((b) => b.instance === 'off1' || b.full_text.includes('off1'))!;
    const on1 = bar.find((b) => b.instance === 'on1' || b.full_text.includes('on1'))!;
    expect(off1.full_text).toMatch(/backup/i);
    expect(on1.full_text).not.toMatch(/backup/i);
    const table = await towerctl(t.d, ['status']);
    expect(table.stdout).toMatch(/BACKUP/);
  });
});
