import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MenuApp } from '../../protocol/index.js';
import { appForLine, dmenuLines, menuRows } from '../../client/commands/menu.js';
import type { Core } from '../../daemon/core/feature.js';
import { Settings } from '../../daemon/core/settings.js';
import { MenuSync, menusEnabled } from '../../daemon/features/menus/sync.js';
import { execArgv, parseEntry, splitWords } from '../../daemon/features/menus/entry.js';
import { checkPng, checkSvg } from '../../daemon/features/menus/icons.js';
import { menuScriptArgv, parseScriptOutput } from '../../daemon/features/menus/hostscript.js';
import { entryText, execValue, execWord, menuDirs, removeHostMenu, writeHostMenu, type WriteApp } from '../../daemon/features/menus/writer.js';

const ctx = { icon: 'app-icon', name: 'My App', location: '/usr/share/applications/app.desktop' };
const entry = (body: string) => Buffer.from(`[Desktop Entry]\nType=Application\nName=App\n${body}\n`);
const parsedArgv = (exec: string) => {
  const p = parseEntry(entry(`Exec=${exec}`), ctx.location);
  if (!p.ok) throw new Error(p.reason);
  return p.entry.argv;
};
const refusal = (bytes: Buffer) => {
  const p = parseEntry(bytes, ctx.location);
  return p.ok ? null : p.reason;
};

describe('Exec split by the Desktop Entry Specification', () => {
  it('splits words on spaces and removes field codes', () => {
    expect(execArgv('firefox %u', ctx)).toEqual(['firefox']);
    expect(execArgv('gimp-2.10 %U', ctx)).toEqual(['gimp-2.10']);
    expect(execArgv('app  --new-window   %F', ctx)).toEqual(['app', '--new-window']);
    expect(execArgv('app --open=%f', ctx)).toEqual(['app', '--open=']);
  });
  it('%% is %, %i is --icon ICON, %c the name, %k the file; deprecated codes vanish', () => {
    expect(execArgv('printf 100%%', ctx)).toEqual(['printf', '100%']);
    expect(execArgv('app %i %c %k', ctx)).toEqual(['app', '--icon', 'app-icon', 'My App', ctx.location]);
    expect(execArgv('app %i', { ...ctx, icon: null })).toEqual(['app']);
    expect(execArgv('app %d %D %n %N %v %m x', ctx)).toEqual(['app', 'x']);
  });
  it('double quotes: \\" \\` \\$ \\\\ are the only escapes; reserved characters inside are literal', () => {
    expect(execArgv('sh -c "echo \\"hi\\"; \\$(id) \\`id\\` a\\\\\\\\b"', ctx)).toEqual(['sh', '-c', 'echo "hi"; $(id) `id` a\\b']);
    expect(execArgv('app ""', ctx)).toEqual(['app', '']);
  });
  it('applies the general string escapes before the quoting rule (four backslashes for one in quotes)', () => {
    // as written in the file: Exec=app "a\\\\b" \s
    expect(parsedArgv('app "a\\\\\\\\b"')).toEqual(['app', 'a\\b']);
    expect(parsedArgv('app\\sx')).toEqual(['app', 'x']);
  });
  it('unquoted shell syntax is kept literally as words, never interpreted', () => {
    expect(execArgv('app ; rm -rf ~ $(id) `id` a|b >x', ctx)).toEqual(['app', ';', 'rm', '-rf', '~', '$(id)', '`id`', 'a|b', '>x']);
  });
  it('refuses what the spec does not allow', () => {
    expect(() => execArgv('app "open', ctx)).toThrow(/unterminated/);
    expect(() => execArgv('app "a"b', ctx)).toThrow(/followed by/);
    expect(() => execArgv('app a"b"', ctx)).toThrow(/inside an unquoted/);
    expect(() => execArgv('app "a\\qb"', ctx)).toThrow(/escapes nothing/);
    expect(() => execArgv('app "$(id)"', ctx)).toThrow(/unescaped/);
    expect(() => execArgv('app %x', ctx)).toThrow(/unknown field code/);
    expect(() => execArgv('app "%f"', ctx)).toThrow(/inside quotes/);
    expect(() => execArgv('app 50%', ctx)).toThrow(/lone %/);
    expect(() => execArgv('%U', ctx)).toThrow(/no program/);
    expect(() => execArgv('app\\nrm', ctx)).toThrow(/control/);
    expect(splitWords('a "b c"')).toEqual([
      { text: 'a', quoted: false },
      { text: 'b c', quoted: true },
    ]);
  });
});

describe('the desktop entry schema', () => {
  it('takes Name, GenericName, Icon, Exec, Categories, Terminal from [Desktop Entry] only, unlocalized', () => {
    const p = parseEntry(
      Buffer.from('# c\n[Desktop Entry]\nType=Application\nName=Calc\nName[de]=Rechner\nGenericName=Calculator\nIcon=calc\nExec=calc %U\nCategories=Utility;Calculator;bad cat;\nTerminal=true\n\n[Desktop Action new]\nName=New\nExec=evil\n'),
      ctx.location,
    );
    expect(p).toEqual({ ok: true, entry: { name: 'Calc', genericName: 'Calculator', icon: 'calc', argv: ['calc'], terminal: true, categories: ['Utility', 'Calculator'] } });
  });
  it('keeps NoDisplay, Hidden, OnlyShowIn and other types out; NotShowIn shows', () => {
    for (const body of ['NoDisplay=true', 'Hidden=true', 'OnlyShowIn=GNOME;']) {
      const p = parseEntry(entry(`Exec=a\n${body}`), ctx.location);
      expect(p).toMatchObject({ ok: false, hidden: true });
    }
    expect(parseEntry(Buffer.from('[Desktop Entry]\nType=Link\nName=x\nURL=http://x\n'), ctx.location)).toMatchObject({ ok: false, hidden: true });
    expect(parseEntry(entry('Exec=a\nNotShowIn=KDE;'), ctx.location).ok).toBe(true);
  });
  it('refuses non-UTF-8, NUL, control characters, bad booleans, duplicate keys, missing Exec, other first groups', () => {
    expect(refusal(Buffer.concat([entry('Exec=a'), Buffer.from([0xff, 0xfe])]))).toBe('not UTF-8');
    expect(refusal(Buffer.from('[Desktop Entry]\nType=Application\nName=a\xc3\x28\nExec=a\n', 'latin1'))).toBe('not UTF-8');
    expect(refusal(entry('Exec=a\0b'))).toBe('has NUL bytes');
    expect(refusal(Buffer.from('[Desktop Entry]\nType=Application\nName=a\\nb\nExec=a\n'))).toMatch(/control/);
    expect(refusal(entry('Exec=a\nTerminal=yes'))).toMatch(/neither true nor false/);
    expect(refusal(entry('Exec=a\nExec=b'))).toMatch(/twice/);
    expect(refusal(entry(''))).toBe('no Exec');
    expect(refusal(Buffer.from('[Other]\nA=b\n[Desktop Entry]\nType=Application\nName=a\nExec=a\n'))).toMatch(/first group/);
    expect(refusal(entry(`Exec=a\nGenericName=${'x'.repeat(201)}`))).toMatch(/longer/);
    expect(refusal(entry(`Exec=${Array.from({ length: 65 }, () => 'a').join(' ')}`))).toMatch(/64 arguments/);
  });
});

describe('written entries', () => {
  const tricky = [
    ['sh', '-c', 'echo hi; id > /tmp/x'],
    ['app', '$(id)', '`id`', 'a\\b', '"q"', "it's", '100%', '%f', ''],
    ['prog with space', '--x=~/a', '#hash', 'tab\\t'],
    ['ünïcødé', '中文', 'a*b?c', '(x)', '<y>', '&|'],
  ];
  it('round trip: write, parse back by the spec, the same argv after towerctl run HOST --', () => {
    for (const argv of tricky) {
      const app: WriteApp = { host: 'work', id: 'x', name: 'X', genericName: null, argv, categories: [], terminal: false, icon: null };
      const text = entryText(app, ['towerctl'], null);
      const back = parseEntry(Buffer.from(text), '/x.desktop');
      expect(back.ok, JSON.stringify(back)).toBe(true);
      if (back.ok) expect(back.entry.argv).toEqual(['towerctl', 'run', 'work', '--', ...argv]);
    }
  });
  it('quotes only what needs it, doubles %, escapes backslashes last', () => {
    expect(execWord('plain-arg')).toBe('plain-arg');
    expect(execWord('a b')).toBe('"a b"');
    expect(execWord('$x')).toBe('"\\$x"');
    expect(execWord('50%')).toBe('50%%');
    expect(execWord('')).toBe('""');
    expect(execValue(['a\\b'])).toBe('"a\\\\\\\\b"');
    expect(() => execWord('a\nb')).toThrow(/control/);
  });
  it('writes [HOST] Name, a category per host, only registered main categories of the host', () => {
    const text = entryText({ host: 'work', id: 'calc', name: 'Calc', genericName: 'Calculator', argv: ['calc'], categories: ['Utility', 'Calculator', 'X-Foo'], terminal: false, icon: null }, ['towerctl'], '/i.png');
    expect(text).toContain('Name=[work] Calc\n');
    expect(text).toContain('Categories=Utility;X-Tower-work;\n');
    expect(text).toContain('Icon=/i.png\n');
    expect(text).toContain('Exec=towerctl run work -- calc\n');
  });
  const validate = spawnSync('desktop-file-validate', ['--help']).status === 0;
  it.skipIf(!validate)('every written entry passes desktop-file-validate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tower-menus-unit-'));
    try {
      const dirs = menuDirs(dir);
      const png = Buffer.alloc(33);
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(png);
      png.writeUInt32BE(13, 8);
      png.write('IHDR', 12, 'latin1');
      png.writeUInt32BE(48, 16);
      png.writeUInt32BE(48, 20);
      const apps: WriteApp[] = tricky.map((argv, i) => ({ host: 'work', id: `org.example.App${i}`, name: `App ${i}`, genericName: i ? 'Thing' : null, argv, categories: ['Utility', 'Calculator'], terminal: false, icon: i === 0 ? { kind: 'png', size: '48x48', data: png } : null }));
      const written = await writeHostMenu(dirs, 'work', apps, ['towerctl']);
      for (const w of written) {
        const r = spawnSync('desktop-file-validate', [w.file], { encoding: 'utf8' });
        expect(r.stdout + r.stderr, w.file).toBe('');
        expect(r.status).toBe(0);
      }
      expect(existsSync(join(dirs.icons, '48x48', 'apps', 'tower-work.org.example.App0.png'))).toBe(true);
      // an app gone: its entry and icon go; another host's files stay
      await writeHostMenu(dirs, 'work-2', apps.slice(0, 1), ['towerctl']);
      await writeHostMenu(dirs, 'work', apps.slice(1), ['towerctl']);
      expect(readdirSync(join(dirs.applications, 'work')).sort()).toEqual(['org.example.App1.desktop', 'org.example.App2.desktop', 'org.example.App3.desktop']);
      expect(readdirSync(join(dirs.icons, '48x48', 'apps'))).toEqual(['tower-work-2.org.example.App0.png']);
      await removeHostMenu(dirs, 'work-2');
      expect(existsSync(join(dirs.applications, 'work-2'))).toBe(false);
      expect(readdirSync(join(dirs.icons, '48x48', 'apps'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('icon checks', () => {
  const png = (w: number, h: number) => {
    const b = Buffer.alloc(40);
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b);
    b.writeUInt32BE(13, 8);
    b.write('IHDR', 12, 'latin1');
    b.writeUInt32BE(w, 16);
    b.writeUInt32BE(h, 20);
    return b;
  };
  it('PNG: signature, IHDR first, a sane size', () => {
    expect(checkPng(png(48, 48))).toEqual({ ok: true, kind: 'png', size: '48x48' });
    expect(checkPng(Buffer.from('GIF89a' + 'x'.repeat(40)))).toMatchObject({ ok: false });
    const noIhdr = png(48, 48);
    noIhdr.write('tEXt', 12, 'latin1');
    expect(checkPng(noIhdr)).toMatchObject({ ok: false });
    expect(checkPng(png(100000, 1))).toMatchObject({ ok: false });
  });
  it('SVG: plain drawings pass; scripts, events, foreignObject, entities and external references do not', () => {
    const ok = '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><defs><linearGradient id="g"/></defs><rect fill="url(#g)" width="4" height="4"/><use xlink:href="#g"/></svg>';
    expect(checkSvg(Buffer.from(ok))).toEqual({ ok: true, kind: 'svg', size: 'scalable' });
    const bad = [
      '<svg><script>alert(1)</script></svg>',
      '<svg><SCRIPT xlink:href="x.js"/></svg>',
      '<svg><svg:script/></svg>',
      '<svg onload="alert(1)"></svg>',
      '<svg><rect  ONclick = "x"/></svg>',
      '<svg><foreignObject><p>x</p></foreignObject></svg>',
      '<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg>&x;</svg>',
      '<svg><image href="http://evil/x.png"/></svg>',
      '<svg><image xlink:href="file:///etc/shadow"/></svg>',
      "<svg><use href='data:image/svg+xml,<svg/>'/></svg>",
      '<svg><use href=x.svg /></svg>',
      '<svg><rect style="fill:url(http://evil/p)"/></svg>',
      '<svg><style>@import "http://evil/x.css";</style></svg>',
      '<?xml-stylesheet href="http://evil/x.css"?><svg></svg>',
      'no svg at all',
    ];
    for (const b of bad) expect(checkSvg(Buffer.from(b)), b).toMatchObject({ ok: false });
    expect(checkSvg(Buffer.from([0x3c, 0x73, 0x76, 0x67, 0x3e, 0xff]))).toMatchObject({ ok: false });
  });
});

// The host command under the shells hosts have (busybox sh) and dash, on a folder built here.
const shells = [['busybox', 'sh'], ['dash']].filter((sh) => spawnSync(sh[0]!, [...sh.slice(1), '-c', 'true']).status === 0);
describe.skipIf(shells.length === 0)('the host command', () => {
  const root = mkdtempSync(join(tmpdir(), 'tower-menus-script-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const apps = join(root, 'apps');
  const icons = join(root, 'icons');
  mkdirSync(apps);
  mkdirSync(join(icons, 'scalable', 'apps'), { recursive: true });
  mkdirSync(join(icons, '48x48', 'apps'), { recursive: true });
  mkdirSync(join(root, 'home', '.local', 'share', 'applications'), { recursive: true });
  writeFileSync(join(apps, 'good.desktop'), '[Desktop Entry]\nType=Application\nName=Good\nExec=good\nIcon=good\n');
  writeFileSync(join(root, 'home', '.local', 'share', 'applications', 'good.desktop'), '[Desktop Entry]\nType=Application\nName=Mine\nExec=mine\nIcon=/etc/passwd\n');
  writeFileSync(join(icons, '48x48', 'apps', 'good.png'), 'png-bytes');
  writeFileSync(join(apps, 'big.desktop'), Buffer.alloc(10 * 1024 * 1024, 0x41));
  symlinkSync('/etc/shadow', join(apps, 'shadow.desktop'));
  symlinkSync(join(apps, 'good.desktop'), join(apps, 'alias.desktop'));
  writeFileSync(join(apps, 'bad name.desktop'), 'x');
  writeFileSync(join(apps, `${'l'.repeat(201)}.desktop`), '[Desktop Entry]\nType=Application\nName=Long\nExec=long\n');
  writeFileSync(join(apps, 'longicon.desktop'), `[Desktop Entry]\nType=Application\nName=LongIcon\nExec=x\nIcon=/${'i'.repeat(1100)}\n`);
  const caps = { fileCap: 65536, iconCap: 262144, hostCap: 4 << 20, maxFiles: 100 };
  for (const sh of shells) {
    it(`${sh.join(' ')}: lists files with exact length headers; refuses symlinks out, oversized files and bad names`, () => {
      const argv = menuScriptArgv({ ...caps, appDirs: ['~/.local/share/applications', apps, join(root, 'missing')], iconDirs: [icons] });
      const tmp = mkdtempSync(join(root, 'tmp-'));
      const out = execFileSync(sh[0]!, [...sh.slice(1), ...argv.slice(1)], { env: { PATH: process.env.PATH, HOME: join(root, 'home'), TMPDIR: tmp } });
      // its copies went with it
      expect(readdirSync(tmp)).toEqual([]);
      const r = parseScriptOutput(out, caps);
      // the home folder comes first and hides the system file of the same name
      expect(r.files.map((f) => f.name).sort()).toEqual(['alias.desktop', 'good.desktop', 'longicon.desktop']);
      expect(r.files.find((f) => f.name === 'good.desktop')!.data.toString()).toContain('Name=Mine');
      expect(r.refused).toEqual(
        expect.arrayContaining([
          { reason: 'size', name: 'big.desktop' },
          { reason: 'outside', name: 'shadow.desktop' },
          { reason: 'name', name: '-' },
          { reason: 'icon-name', name: '-' },
          { reason: 'icon-outside', name: '/etc/passwd' },
        ]),
      );
      expect(r.icons.get('good')).toMatchObject({ ext: 'png', data: Buffer.from('png-bytes') });
      expect(readFileSync(join(apps, 'good.desktop'), 'utf8')).toContain('Good');
    });
  }
  it('the parser refuses output that does not add up', () => {
    expect(() => parseScriptOutput(Buffer.from('TOWER-MENUS 1\nF 10 /a x.desktop\nshort\nEND 1\n'), caps)).toThrow(/shorter/);
    expect(() => parseScriptOutput(Buffer.from('TOWER-MENUS 1\nF 3 /a x.desktop\nabc\nEND 2\n'), caps)).toThrow(/count/);
    expect(() => parseScriptOutput(Buffer.from('TOWER-MENUS 1\nF 999999 /a x.desktop\n'), caps)).toThrow(/cap/);
    expect(() => parseScriptOutput(Buffer.from('TOWER-MENUS 1\nF 3 /a ../x.desktop\nabc\nEND 1\n'), caps)).toThrow(/unexpected/);
    expect(() => parseScriptOutput(Buffer.from('TOWER-MENUS 1\nEND 0\nmore'), caps)).toThrow(/after the end/);
    expect(parseScriptOutput(Buffer.from('TOWER-MENUS 1\nF 3 /a x.desktop\nabc\nEND 1\n'), caps).files).toHaveLength(1);
  });
});

describe('towerctl menu --dmenu lines', () => {
  const app = (host: string, id: string, name: string): MenuApp => ({ host, id, name, genericName: null, argv: [id], terminal: false, categories: [], icon: null, file: `/x/${id}.desktop` });
  it('one "[HOST] Name" line per app, the id added only where a host has two of a name; a line names its app', () => {
    const apps = [app('work', 'a', 'Editor'), app('work', 'b', 'Editor'), app('web', 'c', 'Editor'), app('web', 'd', 'Browser')];
    expect(dmenuLines(apps)).toEqual(['[work] Editor (a)', '[work] Editor (b)', '[web] Editor', '[web] Browser']);
    expect(appForLine(apps, '[work] Editor (b)\n')?.id).toBe('b');
    expect(appForLine(apps, '  [web] Browser ')?.id).toBe('d');
    expect(appForLine(apps, '[work] Editor')).toBeUndefined();
    expect(appForLine(apps, '[web] browser')).toBeUndefined();
  });
  it('the table shows each app’s command quoted as a shell would read it', () => {
    expect(menuRows([{ ...app('work', 'a', 'Editor'), argv: ['xterm', '-e', 'vi a b'] }])).toContain("xterm -e 'vi a b'");
    expect(menuRows([])).toBe('No menu entries.\n');
  });
});

describe('pruning at start and when menus are turned off', () => {
  it('removes the folders and icons of hosts that are gone or have menus off, keeps the others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tower-menus-prune-'));
    try {
      const dirs = menuDirs(dir);
      const app = (host: string): WriteApp => ({ host, id: 'a', name: 'A', genericName: null, argv: ['a'], categories: [], terminal: false, icon: { kind: 'svg', size: 'scalable', data: Buffer.from('<svg></svg>') } });
      for (const h of ['kept', 'gone', 'off']) await writeHostMenu(dirs, h, [app(h)], ['towerctl']);
      const settings = Settings.parse({ menus: { hosts: { off: false } } });
      const core = {
        settings: () => settings,
        registry: { get: (n: string) => (n === 'gone' ? undefined : { name: n }) },
        log: { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined },
      } as unknown as Core;
      await new MenuSync(core, dir).prune();
      expect(readdirSync(dirs.applications)).toEqual(['kept']);
      expect(readdirSync(join(dirs.icons, 'scalable', 'apps'))).toEqual(['tower-kept.a.svg']);
      expect(menusEnabled(settings, 'off')).toBe(false);
      expect(menusEnabled(Settings.parse({ menus: { enabled: false, hosts: { on: true } } }), 'on')).toBe(true);
      expect(menusEnabled(Settings.parse({ menus: { enabled: false } }), 'x')).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
