import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readdir, rm, writeFile, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { EntryChecker, normaliseName, safeMode } from '../../daemon/features/files/check.js';
import { localEnd, sourcePath, targetDir, type End, type Proc } from '../../daemon/features/files/ends.js';
import { RENAME_SCRIPT, suffixed } from '../../daemon/features/files/naming.js';
import { decide } from '../../daemon/features/files/policy.js';
import { Refused, stage, MAX_LONG_HEADER_BYTES } from '../../daemon/features/files/stage.js';
import { Settings } from '../../daemon/core/settings.js';

const limits = { maxBytes: 1000, maxEntries: 5 };
const file = (name: string, size = 1, mode = 0o644) => ({ name, type: 'file', size, mode });

describe('files: the entry rules', () => {
  it('accepts regular files and folders under the requested name, mode reduced to permissions', () => {
    const c = new EntryChecker(limits);
    expect(c.check({ name: './a/', type: 'directory', size: 0, mode: 0o41777 }, 'a')).toEqual({ ok: true, name: 'a', type: 'directory', size: 0, mode: 0o777 });
    expect(c.check(file('./a/x.txt', 10, 0o106755), 'a')).toEqual({ ok: true, name: 'a/x.txt', type: 'file', size: 10, mode: 0o755 });
    expect(c.check(file('a/private', 1, 0o400), 'a')).toMatchObject({ ok: true, mode: 0o600 });
    expect(c.bytes).toBe(11);
    expect(c.entries).toBe(3);
  });

  it.each([
    ['../../etc/passwd', 'a .. component'],
    ['a/../../x', 'a .. component'],
    ['/etc/passwd', 'an absolute path'],
    ['a/\u001b[31mx', 'control characters in the name'],
    ['a/new\nline', 'control characters in the name'],
    ['a/\uFFFD', 'the name is not UTF-8'],
    ['a/./b', 'a . or empty component'],
    ['a//b', 'a . or empty component'],
    [`a/${'x'.repeat(256)}`, 'a component longer than 255 bytes'],
    [`a/${'x/'.repeat(2100)}`, 'the name is longer than 4096 bytes'],
  ])('refuses the name %j', (name, reason) => {
    expect(normaliseName(name)).toMatchObject({ ok: false, reason });
    expect(new EntryChecker(limits).check(file(name), 'a')).toMatchObject({ ok: false, reason, stop: false });
  });

  it.each([
    ['symlink', /^a symbolic link \(to \/etc\/shadow\)$/],
    ['link', /^a hard link/],
    ['character-device', /^a device/],
    ['block-device', /^a device/],
    ['fifo', /^a fifo$/],
    ['gnu-sparse', /^an unsupported entry type/],
    [null, /^an unsupported entry type \(unknown\)/],
  ])('refuses a %s entry', (type, reason) => {
    const r = new EntryChecker(limits).check({ name: 'a/x', type, size: 0, mode: 0o644, linkname: '/etc/shadow' }, 'a');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('refuses names outside the requested top-level name, twice the same name, and entries below a file', () => {
    const c = new EntryChecker(limits);
    expect(c.check(file('b/x'), 'a')).toMatchObject({ ok: false, reason: 'outside the requested a' });
    expect(c.check(file('ab'), 'a')).toMatchObject({ ok: false, reason: 'outside the requested a' });
    expect(c.check(file('a'), 'a')).toMatchObject({ ok: true });
    expect(c.check(file('a'), 'a')).toMatchObject({ ok: false, reason: 'appears twice' });
    expect(c.check(file('a/b'), 'a')).toMatchObject({ ok: false, reason: 'inside an entry that is a file' });
  });

  it('stops at the byte cap and the entry cap', () => {
    const c = new EntryChecker(limits);
    expect(c.check(file('a/1', 600), 'a')).toMatchObject({ ok: true });
    expect(c.check(file('a/2', 401), 'a')).toMatchObject({ ok: false, stop: true, reason: expect.stringMatching(/^401 bytes: over the cap of files.maxBytes = 1000/) });
    expect(c.check(file('a/2', 400), 'a')).toMatchObject({ ok: true });
    expect(c.check(file('a/3', Number.NaN), 'a')).toMatchObject({ ok: false, stop: true, reason: 'an invalid size' });
    for (const n of ['a/4', 'a/5', 'a/6']) expect(c.check(file(n, 0), 'a')).toMatchObject({ ok: true });
    expect(c.check(file('a/7', 0), 'a')).toMatchObject({ ok: false, stop: true, reason: 'more than files.maxEntries = 5 entries' });
  });

  it('bounds what it keeps of the names', () => {
    const c = new EntryChecker({ ...limits, maxNameBytes: 10 });
    expect(c.check(file('a/12345'), 'a')).toMatchObject({ ok: true });
    expect(c.check(file('a/123'), 'a')).toMatchObject({ ok: false, stop: true, reason: 'the names pass 10 bytes in all' });
  });

  it('never keeps setuid, setgid or sticky bits', () => {
    for (let m = 0; m <= 0o7777; m += 0o111) {
      expect(safeMode(m, 'file') & ~0o777).toBe(0);
      expect(safeMode(m, 'directory') & 0o700).toBe(0o700);
    }
  });
});

describe('files: the policy', () => {
  const on = { name: 'web', role: 'online' } as const;
  const off = { name: 'vault', role: 'offline' } as const;
  const off2 = { name: 'notes', role: 'offline' } as const;
  const tc = { name: 'thinclient', role: 'thinclient' } as const;
  const defaults = Settings.parse({}).files.policy;

  it('by default denies offline → online and asks for everything else', () => {
    expect(decide(defaults, off, on)).toEqual({ action: 'deny', yes: false, rule: 0 });
    expect(decide(defaults, on, off).action).toBe('ask');
    expect(decide(defaults, off, off2).action).toBe('ask');
    expect(decide(defaults, tc, off).action).toBe('ask');
    expect(decide(defaults, off, tc).action).toBe('ask');
  });

  it('matches roles and names, first rule wins, no match asks', () => {
    const rules = [
      { from: 'vault', to: 'web', action: 'allow', yes: false },
      { from: 'offline', to: 'online', action: 'deny', yes: false },
      { from: 'offline', to: 'offline', action: 'ask', yes: true },
      { from: 'thinclient', to: 'vault', action: 'allow', yes: false },
    ] as const;
    expect(decide(rules, off, on)).toEqual({ action: 'allow', yes: false, rule: 0 });
    expect(decide(rules, off2, on)).toEqual({ action: 'deny', yes: false, rule: 1 });
    expect(decide(rules, off2, off)).toEqual({ action: 'ask', yes: true, rule: 2 });
    expect(decide(rules, tc, off)).toEqual({ action: 'allow', yes: false, rule: 3 });
    expect(decide(rules, tc, off2)).toEqual({ action: 'ask', yes: false, rule: null });
    expect(decide(rules, on, off)).toEqual({ action: 'ask', yes: false, rule: null });
  });
});

describe('files: names that exist get a suffix', () => {
  it.each([
    ['report.pdf', 'file', 1, 'report (1).pdf'],
    ['a.tar.gz', 'file', 2, 'a.tar (2).gz'],
    ['.bashrc', 'file', 1, '.bashrc (1)'],
    ['Makefile', 'file', 3, 'Makefile (3)'],
    ['photos.2026', 'directory', 1, 'photos.2026 (1)'],
    ['x', 'file', 0, 'x'],
  ] as const)('%s (%s) #%i → %s', (name, type, i, out) => expect(suffixed(name, type, i)).toBe(out));

  let dir: string | undefined;
  afterEach(async () => dir && rm(dir, { recursive: true, force: true }));

  it('the host script (busybox sh) gives the same names as the thin client', async () => {
    dir = await mkdtemp(join(tmpdir(), 'files-naming-'));
    const target = join(dir, 'in');
    await mkdir(target);
    for (const n of ['report.pdf', 'report (1).pdf', '.bashrc', 'photos.2026']) await writeFile(join(target, n), 'old');
    const items = [
      ['f', 'report.pdf'],
      ['f', '.bashrc'],
      ['d', 'photos.2026'],
      ['f', 'new.txt'],
    ];
    const tmp = join(dir, '.tower-incoming-x');
    await mkdir(tmp);
    for (const [k, n] of items) {
      if (k === 'd') await mkdir(join(tmp, n!));
      else await writeFile(join(tmp, n!), 'new');
    }
    const sh = execFileSync('busybox', ['sh', '-c', RENAME_SCRIPT, 'sh', dir, 'in', tmp, ...items.map(([k, n]) => `${k}:${n}`)], { encoding: 'utf8' });
    expect(sh.trim().split('\n')).toEqual(['report (2).pdf', '.bashrc (1)', 'photos.2026 (1)', 'new.txt']);
    expect(await readFile(join(target, 'report.pdf'), 'utf8')).toBe('old');
    expect(await readFile(join(target, 'report (2).pdf'), 'utf8')).toBe('new');
    expect((await readdir(dir)).sort()).toEqual(['in']);
    expect(suffixed('report.pdf', 'file', 2)).toBe('report (2).pdf');
  });
});

/** A source end whose `tar c` is a crafted stream (the hostile host of the integration test, in-process). */
function craftedSource(entries: { header: tarStream.Headers; body?: Buffer }[]): End {
  const base = localEnd(tmpdir(), 'evil');
  return {
    ...base,
    create() {
      const pack = tarStream.pack();
      for (const e of entries) pack.entry(e.header, e.body ?? Buffer.alloc(0));
      pack.finalize();
      const stream = Readable.from(pack);
      const p: Proc<Readable> = { stream, done: new Promise((r) => stream.on('end', () => r({ code: 0, stderr: '' }))), kill: () => stream.destroy() };
      return Promise.resolve(p);
    },
  };
}

describe('files: staging between two thin-client ends (real tar)', () => {
  let dir: string | undefined;
  afterEach(async () => dir && rm(dir, { recursive: true, force: true }));
  const deps = (maxBytes = 1 << 30) => ({ limits: { maxBytes, maxEntries: 1000 }, signal: new AbortController().signal, progress: () => undefined });

  it('copies a folder byte for byte with SHA-256 per file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'files-stage-'));
    const src = join(dir, 'src', 'docs');
    await mkdir(join(src, 'sub'), { recursive: true });
    const data = Buffer.from('x'.repeat(100_000));
    await writeFile(join(src, 'a.txt'), data);
    await writeFile(join(src, 'sub', `${'long-'.repeat(40)}.bin`), 'b');
    const tmp = join(dir, '.tower-incoming-t');
    await mkdir(tmp);
    const end = localEnd(dir, 'thinclient');
    const r = await stage(end, [sourcePath(src) as never], end, tmp, deps(), 1000);
    expect(r.entryCount).toBe(4);
    expect(r.top).toEqual([{ name: 'docs', type: 'directory' }]);
    expect(r.entries.find((e) => e.name === 'docs/a.txt')?.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    expect(await readFile(join(tmp, 'docs', 'a.txt'))).toEqual(data);
    expect(await readFile(join(tmp, 'docs', 'sub', `${'long-'.repeat(40)}.bin`), 'utf8')).toBe('b');
  });

  it('refuses each hostile entry by name and leaves the folder to be removed', async () => {
    dir = await mkdtemp(join(tmpdir(), 'files-stage-'));
    const tmp = join(dir, '.tower-incoming-t');
    await mkdir(tmp);
    const evil = craftedSource([
      { header: { name: 'drop/ok.txt', type: 'file', mode: 0o644 }, body: Buffer.from('fine') },
      { header: { name: '../../etc/passwd', type: 'file', mode: 0o644 }, body: Buffer.from('root::0:0::/:/bin/sh\n') },
      { header: { name: 'drop/link', type: 'symlink', linkname: '/etc/shadow' } },
      { header: { name: 'drop/tty', type: 'character-device', devmajor: 5, devminor: 0 } },
      { header: { name: 'drop/big', type: 'file', mode: 0o644 }, body: Buffer.alloc(4096) },
    ]);
    const err = await stage(evil, [{ parent: '.', base: 'drop', path: './drop' }], localEnd(dir, 'thinclient'), tmp, deps(1000), 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Refused);
    expect((err as Refused).refusals.map((r) => r.name)).toEqual(['../../etc/passwd', 'drop/link', 'drop/tty', 'drop/big']);
    expect((err as Refused).refusals[3]?.reason).toMatch(/over the cap/);
    // nothing reached outside the staging folder, which the caller removes
    expect((await readdir(dir)).sort()).toEqual(['.tower-incoming-t']);
  });

  it('refuses a pax header larger than its cap without reading it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'files-stage-'));
    const tmp = join(dir, '.tower-incoming-t');
    await mkdir(tmp);
    const huge = 'p'.repeat(MAX_LONG_HEADER_BYTES + 10);
    const evil = craftedSource([{ header: { name: 'drop/x', type: 'file', mode: 0o644, pax: { comment: huge } } as tarStream.Headers, body: Buffer.from('x') }]);
    await expect(stage(evil, [{ parent: '.', base: 'drop', path: './drop' }], localEnd(dir, 'thinclient'), tmp, deps(), 1000)).rejects.toThrow(/pax-header of \d+ bytes/);
  });
});

describe('files: command-line ends and paths', () => {
  it('HOST:PATH, HOST:, thinclient: and plain paths', async () => {
    const { parseSpec } = await import('../../client/commands/files.js');
    expect(parseSpec('office:report.pdf', '/w')).toEqual({ end: 'office', path: 'report.pdf' });
    expect(parseSpec('vault:', '/w')).toEqual({ end: 'vault', path: undefined });
    expect(parseSpec('thinclient:/tmp/x', '/w')).toEqual({ end: 'thinclient', path: '/tmp/x' });
    expect(parseSpec('notes.txt', '/w')).toEqual({ end: 'thinclient', path: '/w/notes.txt' });
    expect(parseSpec('./a:b', '/w')).toEqual({ end: 'thinclient', path: '/w/a:b' });
    expect(parseSpec('Bad:x', '/w')).toEqual({ end: 'thinclient', path: '/w/Bad:x' });
  });

  it('a source path splits into where tar runs and what it archives', () => {
    expect(sourcePath('photos/')).toEqual({ parent: '.', base: 'photos', path: './photos' });
    expect(sourcePath('~/a/b.txt')).toEqual({ parent: './a', base: 'b.txt', path: './a/b.txt' });
    expect(sourcePath('-rf/x')).toEqual({ parent: './-rf', base: 'x', path: './-rf/x' });
    expect(sourcePath('/etc/hosts')).toEqual({ parent: '/etc', base: 'hosts', path: '/etc/hosts' });
    for (const bad of ['.', '..', '/', '~', 'a/..']) expect(sourcePath(bad)).toHaveProperty('error');
    expect(targetDir('~/in')).toBe('./in');
    expect(targetDir('/srv/in/')).toBe('/srv/in/');
    expect(targetDir('-x')).toBe('./-x');
  });
});
