// Files between hosts for real: an Alpine-like lab (busybox tar, sh, find, sha256sum) with two offline hosts and one
// online host that cannot reach each other, towerd in the thin-client namespace the only thing connecting them.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pty from 'node-pty';
import tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TowerClient } from '../../client/rpc.js';
import type { FilesTransfer } from '../../protocol/index.js';
import { labUp, type RunningLab } from '../lab/lab.js';
import { ALPINE_DIR } from '../lab/profile.js';
import { TOWERCTL, startDaemon, startTowerctl, tempHome, towerctl, type RunningDaemon } from '../helpers/towerd.js';
import { until } from '../helpers/until.js';

const root = process.getuid?.() === 0;
const FILES = 1000;
const TOTAL = 200 * 1024 * 1024;
let lab: RunningLab;
let d: RunningDaemon;
let client: TowerClient;
const events: FilesTransfer[] = [];

const settingsFile = () => join(lab.home, '.config', 'tower', 'towerd.json');
async function setFiles(files: object | undefined): Promise<void> {
  mkdirSync(join(lab.home, '.config', 'tower'), { recursive: true });
  writeFileSync(settingsFile(), JSON.stringify(files ? { files } : {}));
  await client.call('daemon.reload');
}

async function startTowerd(): Promise<void> {
  d = await startDaemon({ home: lab.home, spawnPrefix: lab.tcSpawnPrefix() });
  client = await TowerClient.connect(d.socket, { validate: true });
  await client.subscribe(['files'], (e) => {
    if (e.type === 'files.transfer') events.push(e.transfer);
  });
  await until('every host online', async () => (await client.call('status')).hosts.every((h) => h.state === 'online'), 20_000);
}

/** a command as the host's login user (busybox sh); fails the test on a non-zero exit */
async function sh(host: string, script: string, opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await lab.execHost(host, ['sh', '-c', script], { user: 'tower', input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000 });
  if (r.code !== 0) throw new Error(`${host}: ${script}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}
const hashes = (host: string, dir: string) => sh(host, `cd "$HOME/${dir}" && find . -type f -exec sha256sum {} + | sort -k 2`, { timeoutMs: 120_000 });
const listing = (host: string, dir: string, all = false) => sh(host, `mkdir -p "$HOME/${dir}" && ls ${all ? '-A' : ''} "$HOME/${dir}"`).then((s) => s.split('\n').filter(Boolean));
const cp = (...args: string[]) => towerctl(d, ['cp', ...args]);

describe.skipIf(!root)('files between hosts (towerctl cp, mv, files log)', () => {
  beforeAll(async () => {
    lab = await labUp({ prefix: `twlt${process.pid % 10000}fl`, online: 1, offline: 2, router: false, home: tempHome('tower-files-') });
    await startTowerd();
    // 1,000 files, 200 MiB in all, in nested folders, with a space and non-ASCII in some names
    const each = Math.floor(TOTAL / FILES);
    await sh(
      'off1',
      `set -e; cd "$HOME"; mkdir -p data; i=0
       while [ $i -lt ${FILES} ]; do
         sub=data/part-$((i / 100)); mkdir -p "$sub"
         n=$sub/file-$i.bin; [ $((i % 97)) -eq 0 ] && n="$sub/résumé $i.txt"
         head -c ${each} /dev/urandom > "$n"; i=$((i + 1))
       done
       head -c $((${TOTAL} - ${each} * ${FILES})) /dev/urandom >> data/part-0/file-1.bin`,
      { timeoutMs: 180_000 },
    );
  }, 300_000);
  afterAll(async () => {
    client?.close();
    await d?.stop();
    await lab?.down();
  }, 60_000);

  it('by default: offline → online is denied, and ask without a terminal is a refusal', async () => {
    const denied = await cp('off1:data', 'on1:');
    expect(denied.code, denied.stderr).toBe(1);
    expect(denied.stderr).toMatch(/the policy denies off1 \(offline\) → on1 \(online\): files.policy\[0\]/);
    expect(await listing('on1', 'TowerIncoming', true)).toEqual([]);
    const ask = await cp('off1:data', 'off2:');
    expect(ask.code).toBe(1);
    expect(ask.stderr).toMatch(/asks before off1 → off2 .* no terminal to ask on/);
    expect(await listing('off2', 'TowerIncoming', true)).toEqual([]);
  });

  it('1,000 files and 200 MiB from one offline host to another arrive byte-identical', async () => {
    await setFiles({ policy: [{ from: 'offline', to: 'offline', action: 'allow' }] });
    const started = Date.now();
    const r = await towerctl(d, ['cp', '--json', 'off1:data', 'off2:'], {});
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const t = JSON.parse(lines[lines.length - 1]!) as FilesTransfer;
    expect(t).toMatchObject({ state: 'done', from: 'off1', to: 'off2', names: ['data'], bytes: TOTAL, entryCount: FILES + 11 });
    expect(t.dir).toMatch(/^\/.*\/TowerIncoming\/off1$/);
    console.log(`200 MiB, ${FILES} files off1 → off2 in ${Date.now() - started} ms`);
    const [a, b] = await Promise.all([hashes('off1', 'data'), hashes('off2', 'TowerIncoming/off1/data')]);
    expect(a.split('\n').filter(Boolean)).toHaveLength(FILES);
    expect(b).toBe(a);
    // a SHA-256 in the answer is the file's own
    const listed = t.entries.filter((e) => e.type === 'file');
    expect(listed.length).toBeGreaterThan(900);
    for (const one of [listed[0]!, listed[listed.length - 1]!, ...listed.filter((e) => e.name.includes('résumé')).slice(0, 2)]) {
      expect((await sh('off1', 'sha256sum "$HOME/$1" | cut -d " " -f 1'.replace('$1', one.name))).trim()).toBe(one.sha256);
    }
    // nothing left behind, nothing overwritten: the same copy again gets a suffix
    expect(await listing('off2', 'TowerIncoming/off1', true)).toEqual(['data']);
  }, 300_000);

  it('a name that exists gets a suffix; a file keeps its extension', async () => {
    await sh('off1', 'printf one > "$HOME/report.pdf"');
    expect((await cp('off1:report.pdf', 'off2:inbox')).code).toBe(0);
    await sh('off1', 'printf two > "$HOME/report.pdf"');
    const r = await cp('--json', 'off1:report.pdf', 'off2:inbox');
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout.trim().split('\n').pop()!) as FilesTransfer).names).toEqual(['report (1).pdf']);
    expect(await sh('off2', 'cat "$HOME/inbox/report.pdf"; echo; cat "$HOME/inbox/report (1).pdf"')).toBe('one\ntwo');
    const missing = await cp('off1:no-such-thing', 'off2:inbox');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/tar on off1 failed for \.\/no-such-thing \(exit 1\): .*no-such-thing/);
    expect(await listing('off2', 'inbox', true)).toEqual(['report (1).pdf', 'report.pdf']);
  });

  it('a hostile source: ../../etc/passwd, a symlink, a device and an oversized entry are each refused by name, the target keeps nothing', async () => {
    await setFiles({ maxBytes: 1024 * 1024, policy: [{ from: 'offline', to: 'offline', action: 'allow' }] });
    const pack = tarStream.pack();
    pack.entry({ name: './evil/', type: 'directory', mode: 0o755 });
    pack.entry({ name: './evil/fine.txt', type: 'file', mode: 0o4755 }, 'harmless\n');
    pack.entry({ name: '../../etc/passwd', type: 'file', mode: 0o644 }, 'root::0:0:root:/root:/bin/sh\n');
    pack.entry({ name: './evil/shadow', type: 'symlink', linkname: '/etc/shadow' });
    pack.entry({ name: './evil/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660 });
    pack.entry({ name: './evil/huge.bin', type: 'file', mode: 0o644 }, Buffer.alloc(2 * 1024 * 1024, 7));
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
    const passwd = readFileSync('/etc/passwd', 'utf8');
    // off1's tar (busybox's applet on its PATH) now answers every `tar c` with the crafted stream
    const r0 = await lab.execHost('off1', ['sh', '-c', `base64 -d > /run/lab/evil.tar && rm ${ALPINE_DIR}/busybox/tar && printf '#!/bin/sh\\nexec cat /run/lab/evil.tar\\n' > ${ALPINE_DIR}/busybox/tar && chmod 755 ${ALPINE_DIR}/busybox/tar`], { input: Buffer.concat(chunks).toString('base64') });
    expect(r0.code, r0.stderr).toBe(0);
    await sh('off1', 'mkdir -p "$HOME/evil"');
    try {
      const r = await cp('off1:evil', 'off2:');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('refused ../../etc/passwd: a .. component');
      expect(r.stderr).toContain('refused ./evil/shadow: a symbolic link (to /etc/shadow)');
      expect(r.stderr).toContain('refused ./evil/sda: a device (block-device)');
      expect(r.stderr).toMatch(/refused \.\/evil\/huge.bin: 2097152 bytes: over the cap of files.maxBytes = 1048576/);
    } finally {
      await lab.execHost('off1', ['sh', '-c', `rm -f ${ALPINE_DIR}/busybox/tar && ln -s /bin/busybox ${ALPINE_DIR}/busybox/tar`]);
    }
    expect(await listing('off2', 'TowerIncoming/off1', true)).toEqual(['data']);
    expect(await sh('off2', 'find "$HOME" -name fine.txt; ls -A "$HOME"')).not.toMatch(/fine\.txt|evil|passwd/);
    expect(readFileSync('/etc/passwd', 'utf8')).toBe(passwd);
    await setFiles({ policy: [{ from: 'offline', to: 'offline', action: 'allow' }] });
  });

  it('ask: nothing is visible until the target’s name is typed; declined leaves nothing', async () => {
    await setFiles({ policy: [{ from: 'offline', to: 'offline', action: 'ask' }] });
    await sh('off1', 'mkdir -p "$HOME/asked" && printf "secret plans" > "$HOME/asked/plan.txt"');
    const c = await TowerClient.connect(d.socket, { validate: true });
    try {
      const staged = await c.call('files.copy', { from: 'off1', paths: ['asked'], to: 'off2', dir: 'asks', interactive: true });
      expect(staged).toMatchObject({ state: 'staged', action: 'ask', entryCount: 2, bytes: 12 });
      expect(staged.entries.find((e) => e.name === 'asked/plan.txt')?.sha256).toBe(createHash('sha256').update('secret plans').digest('hex'));
      expect(await listing('off2', 'asks')).toEqual([]);
      await expect(c.call('files.commit', { id: staged.id, confirm: 'off1' })).rejects.toThrow(/type the target's name, off2/);
      const done = await c.call('files.commit', { id: staged.id, confirm: 'off2' });
      expect(done).toMatchObject({ state: 'done', names: ['asked'] });
      expect(await sh('off2', 'cat "$HOME/asks/asked/plan.txt"')).toBe('secret plans');
      const again = await c.call('files.copy', { from: 'off1', paths: ['asked'], to: 'off2', dir: 'asks', interactive: true });
      expect(await listing('off2', 'asks', true)).toEqual(['.tower-incoming-' + again.id, 'asked']);
      expect((await c.call('files.discard', { id: again.id })).state).toBe('declined');
      expect(await listing('off2', 'asks', true)).toEqual(['asked']);
    } finally {
      c.close();
    }
    // towerctl on a terminal: the list with sizes and SHA-256, then the target's name typed (or not)
    const sha = createHash('sha256').update('secret plans').digest('hex');
    for (const answer of ['off2', 'nope']) {
      const term = pty.spawn(process.execPath, [TOWERCTL, 'cp', 'off1:asked', 'off2:ptyask'], { cols: 200, rows: 30, env: { ...d.env, TERM: 'xterm', NO_COLOR: '1' } });
      let out = '';
      term.onData((chunk) => {
        out += chunk;
        if (chunk.includes('Type off2 to confirm: ')) term.write(`${answer}\r`);
      });
      const code = await new Promise<number>((r) => term.onExit((e) => r(e.exitCode)));
      expect(out).toMatch(new RegExp(`asked/plan\\.txt +12 +${sha}`));
      expect(out).toMatch(/Copy 2 entries \(12 B\) from off1 to off2:\/.*\/ptyask\?/);
      if (answer === 'off2') {
        expect(code, out).toBe(0);
        expect(out).toMatch(/cp off1 → off2 done 2 entries, 12 B: \/.*\/ptyask\/\{asked\}/);
      } else {
        expect(code, out).toBe(2);
        expect(out).toContain('not confirmed: nothing was written to off2');
      }
    }
    expect(await listing('off2', 'ptyask', true)).toEqual(['asked']);
  });

  it('the thin client as an end, and mv: the source goes only after the target has it', async () => {
    await setFiles({ policy: [{ from: 'thinclient', to: 'offline', action: 'ask', yes: true }, { from: 'offline', to: 'thinclient', action: 'allow' }, { from: 'offline', to: 'offline', action: 'allow' }] });
    const local = join(lab.home, 'outbox');
    mkdirSync(local, { recursive: true });
    writeFileSync(join(local, 'note.txt'), 'from the thin client\n');
    const noYes = await cp(local, 'off2:');
    expect(noYes.code).toBe(1);
    const up = await cp('--yes', local, 'off2:');
    expect(up.code, up.stderr).toBe(0);
    expect(await sh('off2', 'cat "$HOME/TowerIncoming/thinclient/outbox/note.txt"')).toBe('from the thin client\n');
    const down = await cp('off2:TowerIncoming/thinclient/outbox/note.txt', join(lab.home, 'downloads'));
    expect(down.code, down.stderr).toBe(0);
    expect(readFileSync(join(lab.home, 'downloads', 'note.txt'), 'utf8')).toBe('from the thin client\n');
    await sh('off1', 'mkdir -p "$HOME/moving/a" && printf x > "$HOME/moving/a/x"');
    const mv = await towerctl(d, ['mv', '--json', 'off1:moving', 'off2:moved']);
    expect(mv.code, mv.stderr).toBe(0);
    expect(JSON.parse(mv.stdout.trim().split('\n').pop()!)).toMatchObject({ state: 'done', move: true, removed: true });
    expect(await sh('off2', 'cat "$HOME/moved/moving/a/x"')).toBe('x');
    expect(await sh('off1', '[ -e "$HOME/moving" ] && echo still there || echo gone')).toBe('gone\n');
  });

  it('SIGKILL of towerd mid-transfer leaves nothing visible; the next towerd removes the hidden folder and logs the failure', async () => {
    const bg = startTowerctl(d, ['cp', 'off1:data', 'off2:killed']);
    await until('the transfer to be under way', async () => Number((await sh('off2', 'du -sk "$HOME/killed" 2>/dev/null | cut -f1 || echo 0')).trim() || 0) > 20_000, 60_000, 20);
    d.proc.kill('SIGKILL');
    await bg.exited;
    client.close();
    expect(await listing('off2', 'killed')).toEqual([]);
    const hidden = await listing('off2', 'killed', true);
    expect(hidden).toHaveLength(1);
    expect(hidden[0]).toMatch(/^\.tower-incoming-[0-9a-f]{16}$/);
    await startTowerd();
    await until('the leftover to be removed', async () => (await listing('off2', 'killed', true)).length === 0, 20_000);
    await until('the failure logged', () => events.some((e) => e.state === 'failed' && e.reason?.includes('towerd stopped during the transfer')), 10_000);
  }, 120_000);

  it('the log lists each transfer and refusal, with names, sizes and hashes, never contents', async () => {
    const r = await towerctl(d, ['files', 'log', '--json', '-n', '100']);
    expect(r.code, r.stderr).toBe(0);
    const log = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as FilesTransfer);
    const states = log.map((t) => `${t.from}>${t.to}:${t.state}`);
    expect(states).toEqual([
      'off1>on1:refused',
      'off1>off2:refused',
      'off1>off2:done',
      'off1>off2:done',
      'off1>off2:done',
      'off1>off2:failed',
      'off1>off2:refused',
      'off1>off2:done',
      'off1>off2:declined',
      'off1>off2:done',
      'off1>off2:declined',
      'thinclient>off2:refused',
      'thinclient>off2:done',
      'off2>thinclient:done',
      'off1>off2:done',
      'off1>off2:failed',
    ]);
    expect(log[6]!.refusals.map((x) => x.name)).toEqual(['../../etc/passwd', './evil/shadow', './evil/sda', './evil/huge.bin']);
    expect(log[2]!.entries.filter((e) => e.type === 'file').every((e) => /^[0-9a-f]{64}$/.test(e.sha256 ?? ''))).toBe(true);
    const text = readFileSync(join(lab.home, '.local', 'tower', 'files.log'), 'utf8');
    expect(text).not.toContain('secret plans');
    expect(text).not.toContain('root::0:0');
    expect(existsSync(join(lab.home, '.local', 'tower', 'files-pending.json'))).toBe(true);
    expect(JSON.parse(readFileSync(join(lab.home, '.local', 'tower', 'files-pending.json'), 'utf8'))).toEqual([]);
    const human = await towerctl(d, ['files', 'log', '-n', '3']);
    expect(human.stdout).toMatch(/mv off1 → off2 done 3 entries/);
    expect(readdirSync(lab.home)).not.toContain('TowerIncoming');
  });
});
