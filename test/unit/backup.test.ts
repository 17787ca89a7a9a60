import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupMark } from '../../client/bar/present.js';
import type { BarHost } from '../../client/bar/model.js';
import { backupText } from '../../client/commands/status.js';
import { bytesText } from '../../client/commands/backup.js';
import { Settings } from '../../daemon/core/settings.js';
import { backupDue, defaultRestoreDir, isStale, verifyDue } from '../../daemon/features/backup/plan.js';
import { argvFor, readLine, type Outcome } from '../../daemon/features/backup/restic.js';
import { SftpJail, inside, judge } from '../../daemon/features/backup/sftpjail.js';
import { emptyState } from '../../daemon/features/backup/store.js';

const str = (s: string) => {
  const b = Buffer.from(s);
  const n = Buffer.alloc(4);
  n.writeUInt32BE(b.length);
  return Buffer.concat([n, b]);
};
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
};
/** one request: type, id, then fields */
const req = (type: number, id: number, ...fields: Buffer[]) => Buffer.concat([Buffer.from([type]), u32(id), ...fields]);
const framed = (pkt: Buffer) => Buffer.concat([u32(pkt.length), pkt]);
const ATTRS_NONE = u32(0);
const ROOT = '/srv/repo';

describe('sftp jail: requests checked against the repository folder', () => {
  it('allows paths inside the folder, and stat of its parents only', () => {
    expect(inside(ROOT, Buffer.from('/srv/repo'))).toBe(true);
    expect(inside(ROOT, Buffer.from('/srv/repo/data/ab/cd'))).toBe(true);
    expect(inside(ROOT, Buffer.from('/srv/repo/'))).toBe(true);
    expect(inside(ROOT, Buffer.from('/srv/repo/../etc/passwd'))).toBe(false);
    expect(inside(ROOT, Buffer.from('/srv/repository'))).toBe(false);
    expect(inside(ROOT, Buffer.from('data/x'))).toBe(false);
    expect(inside(ROOT, Buffer.from('/srv'))).toBe(false);
    expect(inside(ROOT, Buffer.from('/srv'), true)).toBe(true);
    expect(inside(ROOT, Buffer.from('/'), true)).toBe(true);
    expect(inside(ROOT, Buffer.from('/etc'), true)).toBe(false);
  });

  it('judges each request type', () => {
    expect(judge(ROOT, req(3, 1, str('/srv/repo/config'), u32(1), ATTRS_NONE))).toBeNull();
    expect(judge(ROOT, req(3, 1, str('/etc/shadow'), u32(1), ATTRS_NONE))).toMatch(/outside/);
    expect(judge(ROOT, req(17, 2, str('/srv')))).toBeNull(); // STAT of a parent
    expect(judge(ROOT, req(11, 2, str('/srv')))).toMatch(/outside/); // OPENDIR of a parent: no listing
    expect(judge(ROOT, req(13, 3, str('/srv/other')))).toMatch(/outside/); // REMOVE
    expect(judge(ROOT, req(18, 4, str('/srv/repo/a'), str('/tmp/a')))).toMatch(/outside/); // RENAME out
    expect(judge(ROOT, req(18, 4, str('/srv/repo/a'), str('/srv/repo/b')))).toBeNull();
    expect(judge(ROOT, req(20, 5, str('/srv/repo/l'), str('/etc')))).toMatch(/links/); // SYMLINK
    expect(judge(ROOT, req(200, 6, str('hardlink@openssh.com'), str('/srv/repo/a'), str('/srv/repo/b')))).toMatch(/not allowed/);
    expect(judge(ROOT, req(200, 6, str('posix-rename@openssh.com'), str('/srv/repo/a'), str('/etc/b')))).toMatch(/outside/);
    expect(judge(ROOT, req(200, 6, str('posix-rename@openssh.com'), str('/srv/repo/a'), str('/srv/repo/b')))).toBeNull();
    expect(judge(ROOT, req(5, 7, str('handle'), Buffer.alloc(12)))).toBeNull(); // READ of a handle
    expect(judge(ROOT, req(3, 8, Buffer.from([0, 0, 0, 99])))).toMatch(/malformed/);
  });

  it('answers a refused request with PERMISSION_DENIED and passes the rest, across chunk boundaries', async () => {
    const replies: Buffer[] = [];
    const passed: Buffer[] = [];
    const jail = new SftpJail(ROOT, (b) => replies.push(b));
    jail.on('data', (b: Buffer) => passed.push(b));
    const stream = Buffer.concat([framed(Buffer.from([1, 0, 0, 0, 3])), framed(req(3, 9, str('/etc/passwd'), u32(1), ATTRS_NONE)), framed(req(17, 10, str('/srv/repo/config')))]);
    for (let i = 0; i < stream.length; i += 7) jail.write(stream.subarray(i, i + 7));
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(passed)).toEqual(Buffer.concat([framed(Buffer.from([1, 0, 0, 0, 3])), framed(req(17, 10, str('/srv/repo/config')))]));
    expect(replies).toHaveLength(1);
    expect(replies[0]![4]).toBe(101); // SSH_FXP_STATUS
    expect(replies[0]!.readUInt32BE(5)).toBe(9); // the refused request's id
    expect(replies[0]!.readUInt32BE(9)).toBe(3); // SSH_FX_PERMISSION_DENIED
    expect(jail.stats).toMatchObject({ allowed: 2, denied: 1 });
  });

  it('ends the stream on a packet over the size limit', async () => {
    const jail = new SftpJail(ROOT, () => undefined);
    const err = new Promise<Error>((r) => jail.once('error', r));
    jail.write(u32(10 * 1024 * 1024));
    expect((await err).message).toMatch(/refused/);
  });

  // a real OpenSSH sftp-server behind the jail: a file outside the folder stays unread, one inside is read
  const SFTP_SERVER = ['/usr/lib/openssh/sftp-server', '/usr/lib/ssh/sftp-server'].find((p) => existsSync(p));
  const dir = mkdtempSync(join(tmpdir(), 'tower-jail-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it.skipIf(!SFTP_SERVER)('keeps a real sftp-server from opening a file outside the folder', async () => {
    const repo = join(dir, 'repo');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(repo);
    writeFileSync(join(repo, 'config'), 'inside');
    writeFileSync(join(dir, 'secret'), 'outside');
    const server = spawn(SFTP_SERVER!, [], { stdio: ['pipe', 'pipe', 'ignore'] });
    const got: Buffer[] = [];
    const jail = new SftpJail(repo, (b) => got.push(b));
    jail.pipe(server.stdin);
    server.stdout.on('data', (b: Buffer) => got.push(b));
    jail.write(framed(Buffer.from([1, 0, 0, 0, 3])));
    jail.write(framed(req(3, 1, str(join(dir, 'secret')), u32(1), ATTRS_NONE)));
    jail.write(framed(req(3, 2, str(join(repo, 'config')), u32(1), ATTRS_NONE)));
    const deadline = Date.now() + 5000;
    // replies: VERSION, STATUS(denied, id 1), HANDLE (id 2)
    const packets = () => {
      const all = Buffer.concat(got);
      const out: Buffer[] = [];
      for (let o = 0; o + 4 <= all.length; ) {
        const n = all.readUInt32BE(o);
        if (o + 4 + n > all.length) break;
        out.push(all.subarray(o + 4, o + 4 + n));
        o += 4 + n;
      }
      return out;
    };
    while (packets().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    server.kill();
    const ps = packets();
    const byId = (id: number) => ps.find((p) => p[0] !== 2 && p.readUInt32BE(1) === id)!;
    expect(byId(1)[0]).toBe(101);
    expect(byId(1).readUInt32BE(5)).toBe(3);
    expect(byId(2)[0]).toBe(102); // SSH_FXP_HANDLE: opened
  });
});

describe('backup schedule and freshness', () => {
  const cfg = Settings.parse({ backup: { sets: [{ host: 'work', storage: { host: 'vault', folder: 'b/work' } }], retry: { initialMs: 60_000, capMs: 240_000 } } }).backup;
  const set = cfg.sets[0]!;
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  it('defaults: the home, daily, 48 hours, weekly verification', () => {
    expect(set).toMatchObject({ name: 'home', paths: [], everyHours: 24, maxAgeHours: 48 });
    expect(cfg).toMatchObject({ verifyEveryHours: 168, verifyReadPercent: 5, maxConcurrent: 2 });
  });
  it('refuses a set stored on its own host, two sets of one name, and .. in the folder', () => {
    expect(Settings.safeParse({ backup: { sets: [{ host: 'work', storage: { host: 'work', folder: 'x' } }] } }).success).toBe(false);
    expect(Settings.safeParse({ backup: { sets: [{ host: 'work', storage: { host: 'a', folder: 'x' } }, { host: 'work', storage: { host: 'b', folder: 'y' } }] } }).success).toBe(false);
    expect(Settings.safeParse({ backup: { sets: [{ host: 'work', storage: { host: 'a', folder: 'x/../../etc' } }] } }).success).toBe(false);
  });
  it('is due at once, then everyHours after a success, with backoff after failures', () => {
    const st = emptyState();
    expect(backupDue(st, set, cfg)).toBe(-Infinity);
    expect(isStale(st, set, t0)).toBe(true);
    st.lastOkAt = new Date(t0).toISOString();
    st.firstOkAt = st.lastOkAt;
    expect(backupDue(st, set, cfg)).toBe(t0 + 24 * 3_600_000);
    expect(isStale(st, set, t0 + 47 * 3_600_000)).toBe(false);
    expect(isStale(st, set, t0 + 49 * 3_600_000)).toBe(true);
    expect(verifyDue(st, cfg)).toBe(t0 + 168 * 3_600_000);
    st.failures = 3;
    st.failedAt = new Date(t0 + 1000).toISOString();
    expect(backupDue(st, set, cfg)).toBe(t0 + 1000 + 240_000);
  });
  it('restores into TowerRestore/ID-DATE by default', () => {
    expect(defaultRestoreDir('3f2a9c1e', '2026-01-04T03:15:02.123456789Z')).toBe('TowerRestore/3f2a9c1e-20260104-031502');
  });
});

describe('restic on the host', () => {
  it('passes the password on stdin only: never in argv', () => {
    const argv = argvFor({ kind: 'backup', name: 'work', homeOnly: true, initialized: false, args: ['--'] }, { repo: 'sftp:tower:/srv/repo', restic: 'restic', netcat: 'nc', port: 4321 });
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv[2]).toMatch(/^IFS= read -r RESTIC_PASSWORD/);
    expect(argv.slice(3)).toEqual(['sh', 'sftp:tower:/srv/repo', 'restic', 'nc', '4321', 'work', '1', '0', '--']);
  });
  it('reads progress, the summary and the snapshot list; ignores what does not fit', () => {
    const out: Outcome = { code: null, summary: null, snapshots: null, target: null, stderr: '' };
    const seen: number[] = [];
    readLine('{"message_type":"status","percent_done":0.5,"total_files":4,"files_done":2,"total_bytes":100,"bytes_done":50}', out, (p) => seen.push(p.percent));
    readLine('{"message_type":"status","percent_done":7}', out, (p) => seen.push(p.percent));
    readLine('{"message_type":"summary","files_new":1,"files_changed":0,"data_added":1414,"total_bytes_processed":6,"snapshot_id":"c0f37d5c"}', out, () => undefined);
    readLine(`[{"id":"${'a'.repeat(64)}","short_id":"aaaaaaaa","time":"2026-01-01T00:00:00Z","hostname":"work","paths":["/home/user"]}]`, out, () => undefined);
    readLine('tower-target /home/user/TowerRestore/x', out, () => undefined);
    readLine('not json {', out, () => undefined);
    expect(seen).toEqual([0.5]);
    expect(out.summary).toMatchObject({ data_added: 1414, snapshot_id: 'c0f37d5c' });
    expect(out.snapshots).toEqual([{ id: 'a'.repeat(64), shortId: 'aaaaaaaa', time: '2026-01-01T00:00:00Z', hostname: 'work', paths: ['/home/user'] }]);
    expect(out.target).toBe('/home/user/TowerRestore/x');
  });
});

describe('backup freshness on screen', () => {
  const host = (backup?: BarHost['backup']): BarHost => ({ name: 'work', role: 'offline', color: { code: 31, name: 'Red', hex: '#cd0000' }, state: 'online', rttMs: 1, lastError: null, ...(backup ? { backup } : {}) });
  const now = Date.parse('2026-01-10T00:00:00Z');
  it('the bar warns of a stale set or none, and says nothing while fresh', () => {
    expect(backupMark(host())).toBeNull();
    expect(backupMark(host({ sets: 1, lastOkAt: null, stale: true, running: false }))).toEqual({ text: '⛁ no backup', tone: 'busy' });
    expect(backupMark(host({ sets: 1, lastOkAt: '2026-01-07T00:00:00Z', stale: true, running: false }), now)).toEqual({ text: '⛁ backup 3d old', tone: 'busy' });
    expect(backupMark(host({ sets: 1, lastOkAt: '2026-01-09T23:00:00Z', stale: false, running: false }), now)).toBeNull();
  });
  it('status: none, age, stale', () => {
    expect(backupText(undefined)).toBe('-');
    expect(backupText({ sets: 1, lastOkAt: null, stale: true, running: false })).toMatch(/none, stale/);
    expect(bytesText(1536)).toBe('1.5 KiB');
    expect(bytesText(null)).toBe('-');
  });
});
