// App menus synced from hosts, for real: a package with a desktop entry and an icon installed on a lab host through
// the apk stand-in shows up here as `[on1] App`; desktop-file-validate checks it; GLib's own launcher (`gio launch`)
// runs the written entry, which starts the app on its host through `towerctl run`; the host's argv is compared.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HostInfo, MenuApp, MenuState } from '../../protocol/index.js';
import { APK_ROOT, APK_SETTINGS, apkRepo, type ApkRepo } from '../helpers/apkRepo.js';
import { startXScreen, type XScreen } from '../helpers/desktop.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { TOWERCTL, run, towerctl } from '../helpers/towerd.js';
import type { PackageSpec } from '../lab/alpine/repo.js';

const root = process.getuid?.() === 0;
const tools = ['Xvnc', 'vncviewer', 'xdotool', 'xprop', 'openbox', 'xauth', 'desktop-file-validate', 'gio'];
const missing = tools.filter((tool) => !(process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, tool))));

function crc32(b: Buffer): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
/** A real 48x48 PNG, all one colour. */
function png48(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(48, 0);
  ihdr.writeUInt32BE(48, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc(48 * (1 + 48 * 3));
  for (let y = 0; y < 48; y++) for (let x = 0; x < 48; x++) rows.set([200, 30, 30], y * 145 + 1 + x * 3);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

/** The app: writes its argv (NUL after each word) to ~/argv.out on the host, then stays up until closed. */
const ARGV_APP = `#!/bin/sh
for a in "$0" "$@"; do printf '%s\\0' "$a"; done > "$HOME/argv.out.tmp" && mv "$HOME/argv.out.tmp" "$HOME/argv.out"
exec sleep 120
`;
/** Exec as the package writes it: quoted words with \\$ and \\` (the spec's escapes), shell syntax unquoted, field codes. */
const EXEC = String.raw`tower-argv "semi;colon and space" "\$(touch /tmp/pwned-quoted)" "\`touch /tmp/pwned-tick\`" ; $(touch /tmp/pwned) a&&b %U 100%% 'single'`;
const EXPECTED = ['tower-argv', 'semi;colon and space', '$(touch /tmp/pwned-quoted)', '`touch /tmp/pwned-tick`', ';', '$(touch', '/tmp/pwned)', 'a&&b', '100%', "'single'"];

const argvPackage: PackageSpec = {
  name: 'argvapp',
  version: '1.0-r0',
  description: 'records its argv',
  files: {
    '/usr/bin/tower-argv': ARGV_APP,
    '/usr/share/applications/org.example.Argv.desktop': `[Desktop Entry]\nType=Application\nName=Argv Recorder\nGenericName=Recorder\nIcon=org.example.Argv\nExec=${EXEC}\nCategories=Utility;\nTerminal=false\n`,
    '/usr/share/icons/hicolor/48x48/apps/org.example.Argv.png': png48(),
  },
};

let t: LabDaemon;
let repo: ApkRepo;
let screen: XScreen;
let binDir = '';
let dataHome = '';

const entryPath = (id: string) => join(dataHome, 'applications', 'tower', 'on1', `${id}.desktop`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: string, pred: () => boolean, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(25);
  }
  return Date.now() - start;
}
const menuList = async (): Promise<{ apps: MenuApp[]; hosts: { name: string; menu: MenuState }[] }> => JSON.parse((await towerctl(t.d, ['menu', '--json'])).stdout) as never;
const onHost = (script: string) => t.lab.execHost('on1', ['sh', '-c', script], { user: 'tower' });

describe.skipIf(!root || missing.length > 0)('app menus synced from hosts', () => {
  beforeAll(async () => {
    screen = await startXScreen({ geometry: '1024x768' });
    binDir = mkdtempSync(join(tmpdir(), 'tower-menus-bin-'));
    // what a launcher finds on its PATH as towerctl
    writeFileSync(join(binDir, 'towerctl'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(TOWERCTL)} "$@"\n`);
    chmodSync(join(binDir, 'towerctl'), 0o755);
    t = await labDaemon(
      'm',
      { online: 1 },
      {
        packages: APK_SETTINGS,
        desktop: { sound: 'off', closeGraceMs: 1000 },
        // the lab's apk installs under APK_ROOT; the machine's own /usr/share stays out of it
        menus: { applicationDirs: ['~/.local/share/applications', `${APK_ROOT}/usr/share/applications`], iconDirs: ['~/.local/share/icons/hicolor', `${APK_ROOT}/usr/share/icons/hicolor`] },
      },
    );
    dataHome = join(t.lab.home, '.local', 'share');
    repo = await apkRepo(t.lab, ['on1'], [argvPackage]);
  }, 120_000);

  afterAll(async () => {
    await repo?.stop();
    await t?.close();
    await screen?.stop();
    if (binDir) rmSync(binDir, { recursive: true, force: true });
  });

  afterEach(async () => {
    if (!t) return;
    const { apps } = await t.client.call('apps.list', {});
    for (const a of apps) await t.client.call('apps.close', { id: a.id }).catch(() => undefined);
  });

  it('install → [on1] App within 5 s, valid, with its icon; gio launch runs it on the host with the same argv; remove → gone', async () => {
    const r = await towerctl(t.d, ['install', 'on1', 'argvapp']);
    expect(r.code, r.stderr).toBe(0);
    const ms = await waitFor('the entry', () => existsSync(entryPath('org.example.Argv')), 5000);
    process.stderr.write(`menu entry written ${ms} ms after towerctl install returned\n`);
    const text = readFileSync(entryPath('org.example.Argv'), 'utf8');
    expect(text).toContain('Name=[on1] Argv Recorder\n');
    expect(text).toMatch(/Categories=Utility;X-Tower-on1;\n/);
    const v = spawnSync('desktop-file-validate', [entryPath('org.example.Argv')], { encoding: 'utf8' });
    expect(v.stdout + v.stderr).toBe('');
    expect(v.status).toBe(0);
    const icon = /^Icon=(.*)$/m.exec(text)![1]!;
    expect(icon).toBe(join(dataHome, 'icons', 'hicolor', '48x48', 'apps', 'tower-on1.org.example.Argv.png'));
    expect(readFileSync(icon).equals(png48())).toBe(true);

    const list = await menuList();
    expect(list.apps).toEqual([expect.objectContaining({ host: 'on1', id: 'org.example.Argv', name: 'Argv Recorder', argv: EXPECTED, icon })]);
    const show = JSON.parse((await towerctl(t.d, ['host', 'show', 'on1', '--json'])).stdout) as HostInfo;
    expect(show.menu).toMatchObject({ apps: 1, lastError: null });

    // GLib's launcher parses the written entry by the spec and runs towerctl run on1 -- ARGV
    await onHost('rm -f ~/argv.out');
    const env = { PATH: `${binDir}:${process.env.PATH}`, HOME: t.lab.home, XDG_RUNTIME_DIR: t.d.env.XDG_RUNTIME_DIR, DISPLAY: screen.display, NO_COLOR: '1' };
    const g = await run('gio', ['launch', entryPath('org.example.Argv')], { env, timeoutMs: 30_000 });
    expect(g.code, g.stderr).toBe(0);
    let got = '';
    for (let i = 0; i < 300 && !got; i++) {
      const c = await onHost('cat ~/argv.out 2>/dev/null');
      got = c.stdout;
      if (!got) await sleep(100);
    }
    const words = got.split('\0').slice(0, -1);
    expect(words[0]).toMatch(/\/tower-argv$/);
    expect(words.slice(1)).toEqual(EXPECTED.slice(1));
    // nothing of the shell syntax ran on the host
    expect((await t.lab.execHost('on1', ['sh', '-c', 'ls /tmp/pwned* 2>/dev/null | wc -l'])).stdout.trim()).toBe('0');
    // towerctl apps shows it running through towerctl run
    const apps = JSON.parse((await towerctl(t.d, ['apps', '--json'])).stdout) as { host: string; argv: string[]; state: string }[];
    expect(apps).toEqual([expect.objectContaining({ host: 'on1', argv: EXPECTED, state: 'running' })]);

    const del = await towerctl(t.d, ['remove', 'on1', 'argvapp']);
    expect(del.code, del.stderr).toBe(0);
    await waitFor('the entry removed', () => !existsSync(entryPath('org.example.Argv')), 5000);
    expect(existsSync(icon)).toBe(false);
  }, 120_000);

  it('an update through the automatic updates’ path (towerctl updates --run) rewrites the entry', async () => {
    expect((await towerctl(t.d, ['install', 'on1', 'argvapp'])).code).toBe(0);
    await waitFor('the entry', () => existsSync(entryPath('org.example.Argv')), 5000);
    const desktop = '/usr/share/applications/org.example.Argv.desktop';
    const v2 = { ...argvPackage, version: '1.1-r0', files: { ...argvPackage.files, [desktop]: (argvPackage.files[desktop] as string).replace('Name=Argv Recorder', 'Name=Argv Recorder Two') } };
    repo.rebuild([v2]);
    const r = await towerctl(t.d, ['updates', 'on1', '--run', '--force', '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ name: 'on1', result: 'ok', upgraded: [{ name: 'argvapp', from: '1.0-r0', to: '1.1-r0' }] })]);
    await waitFor('the new name', () => readFileSync(entryPath('org.example.Argv'), 'utf8').includes('Name=[on1] Argv Recorder Two\n'), 5000);
    expect((await towerctl(t.d, ['remove', 'on1', 'argvapp'])).code).toBe(0);
    await waitFor('the entry removed', () => !existsSync(entryPath('org.example.Argv')), 5000);
  }, 120_000);

  it('towerctl menu --dmenu feeds a launcher; --run - runs the chosen line on its host', async () => {
    await onHost(
      `mkdir -p ~/.local/share/applications && printf '%s\\n' '[Desktop Entry]' 'Type=Application' 'Name=Sleeper' 'Exec=sleep 90' > ~/.local/share/applications/sleeper.desktop` +
        ` && printf '%s\\n' '[Desktop Entry]' 'Type=Application' 'Name=Top' 'Exec=top -d 5' 'Terminal=true' > ~/.local/share/applications/top.desktop`,
    );
    expect((await towerctl(t.d, ['menu', '--sync'])).code).toBe(0);
    // a terminal app runs in an X terminal on its host (menus.terminal); the entry itself needs no terminal here
    expect((await menuList()).apps.find((a) => a.id === 'top')).toMatchObject({ argv: ['xterm', '-e', 'top', '-d', '5'], terminal: true });
    const top = readFileSync(entryPath('top'), 'utf8');
    expect(top).toContain('Exec=towerctl run on1 -- xterm -e top -d 5\n');
    expect(top).toContain('Terminal=false\n');
    await onHost('rm ~/.local/share/applications/top.desktop');
    expect((await towerctl(t.d, ['menu', '--sync'])).code).toBe(0);
    const lines = (await towerctl(t.d, ['menu', '--dmenu'])).stdout.split('\n').filter(Boolean);
    expect(lines).toContain('[on1] Sleeper');
    expect((await towerctl(t.d, ['menu'])).stdout).toMatch(/^on1 +Sleeper +sleeper +sleep 90$/m);
    expect((await towerctl(t.d, ['host', 'show', 'on1'])).stdout).toMatch(/menu +1 apps, synced /);
    // the launcher's part: pick the line (a real dmenu-mode launcher prints the chosen line)
    const chosen = lines.find((l) => l === '[on1] Sleeper')!;
    const r = await run(process.execPath, [TOWERCTL, 'menu', '--run', '-'], { env: { ...t.d.env, DISPLAY: screen.display, NO_COLOR: '1' }, input: chosen + '\n', timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const apps = JSON.parse((await towerctl(t.d, ['apps', '--json'])).stdout) as { argv: string[] }[];
    expect(apps.map((a) => a.argv)).toContainEqual(['sleep', '90']);
    const none = await towerctl(t.d, ['menu', '--run', '[on1] Nothing']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no menu entry is/);
    expect((await towerctl(t.d, ['sway', 'menu'])).stdout).toBe('bindsym $mod+Shift+d exec towerctl menu --dmenu | fuzzel --dmenu | towerctl menu --run -\n');
    await onHost('rm -f ~/.local/share/applications/sleeper.desktop');
  }, 60_000);

  it('hostile entries are refused or neutralised; written entries stay valid', async () => {
    const A = '~/.local/share/applications';
    const I = '~/.local/share/icons/hicolor/scalable/apps';
    await onHost(
      [
        `mkdir -p ${A} ${I}`,
        `printf '[Desktop Entry]\\nType=Application\\nName=Big\\nExec=big\\n' > ${A}/big.desktop && head -c 10485760 /dev/zero | tr '\\0' '#' >> ${A}/big.desktop`,
        `printf '[Desktop Entry]\\nType=Application\\nName=Caf\\351\\nExec=latin\\n' > ${A}/latin1.desktop`,
        `ln -sf /etc/shadow ${A}/shadow.desktop`,
        `ln -sf /etc/passwd ${A}/passwd.desktop`,
        `printf '[Desktop Entry]\\nType=Application\\nName=Scripted\\nIcon=scripted\\nExec=scripted\\n' > ${A}/scripted.desktop`,
        `printf '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>' > ${I}/scripted.svg`,
        `printf '[Desktop Entry]\\nType=Application\\nName=Shell\\nExec=echo hi; rm -rf ~ $(id) \`id\` | x\\n' > ${A}/shell.desktop`,
        `printf '[Desktop Entry]\\nType=Application\\nName=Newline\\\\nInjected=1\\nExec=x\\n' > ${A}/inject.desktop`,
      ].join(' && '),
    );
    const s = await towerctl(t.d, ['menu', '--sync', '--json']);
    expect(s.code, s.stderr).toBe(0);
    const { apps, hosts } = JSON.parse(s.stdout) as { apps: MenuApp[]; hosts: { name: string; menu: MenuState }[] };
    const ids = apps.map((a) => a.id).sort();
    expect(ids).toEqual(['scripted', 'shell']);
    expect(apps.find((a) => a.id === 'scripted')!.icon).toBeNull();
    expect(apps.find((a) => a.id === 'shell')!.argv).toEqual(['echo', 'hi;', 'rm', '-rf', '~', '$(id)', '`id`', '|', 'x']);
    // big, latin1, shadow, passwd (outside the folders), the script SVG, the name with an escaped newline
    expect(hosts.find((h) => h.name === 'on1')!.menu.refused).toBe(6);
    const logs = (await towerctl(t.d, ['logs', '-n', '60', '--level', 'warn', '--json'])).stdout;
    for (const why of ['"reason":"size"', '"reason":"not UTF-8"', '"reason":"outside"', 'an SVG with a <script>', 'Name has control characters']) expect(logs).toContain(why);
    for (const f of readdirSync(join(dataHome, 'applications', 'tower', 'on1'))) {
      const v = spawnSync('desktop-file-validate', [join(dataHome, 'applications', 'tower', 'on1', f)], { encoding: 'utf8' });
      expect(v.stdout + v.stderr, f).toBe('');
    }
    const shell = readFileSync(entryPath('shell'), 'utf8');
    expect(shell).toContain('Exec=towerctl run on1 -- echo "hi;" rm -rf "~" "\\\\$(id)" "\\\\`id\\\\`" "|" x\n');
  }, 60_000);

  it('a host is read again after it reconnects', async () => {
    await onHost(`printf '%s\\n' '[Desktop Entry]' 'Type=Application' 'Name=Later' 'Exec=later' > ~/.local/share/applications/later.desktop`);
    expect(existsSync(entryPath('later'))).toBe(false);
    expect((await towerctl(t.d, ['host', 'reconnect', 'on1'])).code).toBe(0);
    // menus.settleMs (2 s) after the connect
    await waitFor('the entry after the reconnect', () => existsSync(entryPath('later')), 15_000);
  }, 30_000);

  it('menus turned off for a host remove its entries; on again brings them back; a removed host’s go too', async () => {
    const settingsFile = join(t.lab.home, '.config', 'tower', 'towerd.json');
    const original = readFileSync(settingsFile, 'utf8');
    const settings = JSON.parse(original) as { menus: object };
    expect(existsSync(entryPath('shell'))).toBe(true);
    writeFileSync(settingsFile, JSON.stringify({ ...settings, menus: { ...settings.menus, hosts: { on1: false } } }));
    await t.client.call('daemon.reload');
    await waitFor('entries removed', () => !existsSync(join(dataHome, 'applications', 'tower', 'on1')), 5000);
    const show = JSON.parse((await towerctl(t.d, ['host', 'show', 'on1', '--json'])).stdout) as HostInfo;
    expect(show.menu).toBeUndefined();
    writeFileSync(settingsFile, original);
    await t.client.call('daemon.reload');
    await waitFor('entries back', () => existsSync(entryPath('shell')), 10_000);
    const rm = await towerctl(t.d, ['host', 'rm', 'on1', '--yes', '--keep-files']);
    expect(rm.code, rm.stderr).toBe(0);
    await waitFor('a removed host’s entries removed', () => !existsSync(join(dataHome, 'applications', 'tower', 'on1')), 5000);
  }, 60_000);
});
