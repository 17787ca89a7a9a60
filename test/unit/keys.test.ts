import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keyBlob, parseRewrite, rewriteArgv } from '../../daemon/features/keys/authorized.js';
import { JOURNAL_FILE, JournalError, finishingSteps, readJournal, recoveryFor, writeJournal, type Journal } from '../../daemon/features/keys/journal.js';
import { fingerprint } from '../../daemon/features/keys/rotate.js';
import { generateEd25519 } from '../../daemon/core/registry/keys.js';

const tmp = mkdtempSync(join(tmpdir(), 'tower-keys-unit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const OLD = generateEd25519('web').publicKey.trim();
const NEW = generateEd25519('web').publicKey.trim();
const OTHER = generateEd25519('me@laptop').publicKey.trim();

describe('key rotation: what a restarted towerd does with the journal', () => {
  it('rolls back until the new key is proven, finishes from then on', () => {
    expect(recoveryFor('staged')).toBe('rollback');
    expect(recoveryFor('added')).toBe('rollback');
    expect(recoveryFor('proven')).toBe('finish');
    expect(recoveryFor('installed')).toBe('finish');
    expect(recoveryFor('removed')).toBe('finish');
  });

  it('finishing puts the new key in place here before the old one goes from the host', () => {
    expect(finishingSteps('proven')).toEqual(['install', 'remove-old', 'clean']);
    expect(finishingSteps('installed')).toEqual(['remove-old', 'clean']);
    expect(finishingSteps('removed')).toEqual(['clean']);
    expect(() => finishingSteps('added')).toThrow(/rolled back/);
  });

  it('reads back what it wrote; refuses a journal that is not one, naming the file', async () => {
    const dir = join(tmp, 'j');
    mkdirSync(dir);
    expect(await readJournal(dir)).toBeUndefined();
    const j: Journal = { version: 1, step: 'added', startedAt: new Date().toISOString(), oldPublicKey: OLD, newPublicKey: NEW };
    await writeJournal(dir, j);
    expect(await readJournal(dir)).toEqual(j);
    expect(statSync(join(dir, JOURNAL_FILE)).mode & 0o777).toBe(0o600);
    writeFileSync(join(dir, JOURNAL_FILE), JSON.stringify({ ...j, step: 'halfway' }));
    await expect(readJournal(dir)).rejects.toThrow(JournalError);
    await expect(readJournal(dir)).rejects.toThrow(/rotate-key\.json is not a key-rotation journal: step/);
    writeFileSync(join(dir, JOURNAL_FILE), '{"version":1');
    await expect(readJournal(dir)).rejects.toThrow(/is not JSON/);
    writeFileSync(join(dir, JOURNAL_FILE), JSON.stringify({ ...j, newPublicKey: 'ssh-ed25519 AAAA\nfrom="*" ssh-rsa X' }));
    await expect(readJournal(dir)).rejects.toThrow(/newPublicKey/);
  });

  it('fingerprints as ssh-keygen does', () => {
    const line = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBzgiZm4DAn9zC3yZxOQPdYmHOuBDcSHQcmSAUWrxzU1 x';
    const r = spawnSync('ssh-keygen', ['-lf', '-'], { input: `${line}\n`, encoding: 'utf8' });
    if (r.status === 0) expect(r.stdout.split(' ')[1]).toBe(fingerprint(line));
    expect(fingerprint(line)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('the authorized_keys report line', () => {
  it('parses the counts, and nothing else', () => {
    expect(parseRewrite('noise\ntower-authorized-keys added=1 removed=0 kept=3 has=1 stale=0\n')).toEqual({ added: 1, removed: 0, kept: 3, has: 1, stale: 0 });
    expect(parseRewrite('tower-authorized-keys added=1 removed=0 kept=3 has=1\n')).toBeUndefined();
    expect(parseRewrite('tower-authorized-keys added=-1 removed=0 kept=3 has=1 stale=0')).toBeUndefined();
    expect(parseRewrite('')).toBeUndefined();
    // only the tail of a long output is looked at
    expect(parseRewrite(`tower-authorized-keys added=1 removed=0 kept=3 has=1 stale=0\n${'x'.repeat(10_000)}`)).toBeUndefined();
  });

  it('takes the blob of a public key line', () => {
    expect(keyBlob(OLD)).toBe(OLD.split(' ')[1]);
    expect(() => keyBlob('ssh-ed25519')).toThrow();
    expect(() => keyBlob("ssh-ed25519 AAAA';id;' x")).toThrow();
  });
});

// The host script itself, in busybox sh and awk as on an Alpine host, on a home of its own.
const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
describe.skipIf(!busybox)('the authorized_keys rewrite, run by busybox sh', () => {
  const home = join(tmp, 'home');
  const file = join(home, '.ssh', 'authorized_keys');
  // a PATH of busybox's applets only, as on Alpine: no GNU awk or coreutils
  const bin = join(tmp, 'bin');
  mkdirSync(bin, { recursive: true });
  if (busybox) for (const applet of ['sh', 'awk', 'mkdir', 'chmod', 'mv', 'rm', 'sync', 'cat']) symlinkSync(busybox, join(bin, applet));
  const run = (keep: string, remove: string) => {
    const [, , script, ...args] = rewriteArgv(keep, remove);
    const r = spawnSync(join(bin, 'sh'), ['-c', script!, ...args], { env: { HOME: home, PATH: bin }, encoding: 'utf8' });
    return { code: r.status, out: parseRewrite(r.stdout), stderr: r.stderr };
  };
  const lines = () => readFileSync(file, 'utf8').split('\n').filter(Boolean);

  it('creates ~/.ssh and the file when missing', () => {
    mkdirSync(home, { recursive: true });
    const r = run(OLD, '');
    expect(r, r.stderr).toMatchObject({ code: 0, out: { added: 1, has: 1, stale: 0 } });
    expect(lines()).toEqual([OLD]);
    expect(statSync(join(home, '.ssh')).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('adds a key once, keeps every other line in order, leaves no temporary file', () => {
    writeFileSync(file, `# mine\n${OTHER}\ncommand="true",no-pty ${OLD}\n\n${OTHER.replace('me@laptop', 'again')}`);
    expect(run(NEW, '').out).toMatchObject({ added: 1, has: 1 });
    expect(run(NEW, '').out).toMatchObject({ added: 0, has: 1 });
    expect(lines()).toEqual(['# mine', OTHER, `command="true",no-pty ${OLD}`, OTHER.replace('me@laptop', 'again'), NEW]);
    expect(readdirSync(join(home, '.ssh'))).toEqual(['authorized_keys']);
  });

  it('removes a key (also behind options) only while keeping the other, and drops duplicates of the kept one', () => {
    writeFileSync(file, `${NEW}\n# mine\ncommand="true" ${OLD}\n${NEW.replace(' web', ' copy')}\n${OTHER}\n`);
    const r = run(NEW, OLD);
    expect(r.out).toEqual({ added: 0, removed: 2, kept: 3, has: 1, stale: 0 });
    expect(lines()).toEqual([NEW, '# mine', OTHER]);
    // rolling back: the old one back, the new one out
    expect(run(OLD, NEW).out).toMatchObject({ added: 1, removed: 1, has: 1, stale: 0 });
    expect(lines()).toEqual(['# mine', OTHER, OLD]);
  });
});
