import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { MenuApp } from '../../protocol/index.js';
import { ExitCode } from '../../protocol/errors.js';
import { UsageError, print, withClient } from '../context.js';
import { ago, escapeControls as esc, json, table } from '../render.js';
import { graphicalEnv } from './apps.js';

/**
 * One line per app for a dmenu-style launcher: `[HOST] Name`, with ` (ID)` added where two apps of a host share a
 * name. Control characters are refused by towerd already; tabs and newlines cannot reach a line.
 */
export function dmenuLines(apps: MenuApp[]): string[] {
  const count = new Map<string, number>();
  for (const a of apps) count.set(`${a.host}\0${a.name}`, (count.get(`${a.host}\0${a.name}`) ?? 0) + 1);
  return apps.map((a) => `[${a.host}] ${a.name}${(count.get(`${a.host}\0${a.name}`) ?? 0) > 1 ? ` (${a.id})` : ''}`);
}

/** The app a dmenu line names (the line as printed; surrounding whitespace and a trailing newline ignored). */
export function appForLine(apps: MenuApp[], line: string): MenuApp | undefined {
  const want = line.replace(/\r?\n$/, '').trim();
  const lines = dmenuLines(apps);
  const i = lines.findIndex((l) => l === want);
  return i < 0 ? undefined : apps[i];
}

const quoteArg = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

export function menuRows(apps: MenuApp[]): string {
  if (apps.length === 0) return 'No menu entries.\n';
  return table(
    ['HOST', 'NAME', 'ID', 'COMMAND'],
    apps.map((a) => [esc(a.host), esc(a.name), esc(a.id), esc(a.argv.map(quoteArg).join(' '))]),
  );
}

interface MenuOptions {
  json?: boolean;
  dmenu?: boolean;
  run?: string;
  sync?: boolean;
}

export function register(program: Command): void {
  program
    .command('menu')
    .description('The apps of hosts as menu entries: list them, feed a dmenu-style launcher, run the one chosen.')
    .argument('[host]', 'only this host’s apps')
    .option('--json', 'print the apps (and each host’s menu state) as JSON')
    .option('--dmenu', 'print one line per app, "[HOST] Name", for fuzzel/wofi/bemenu --dmenu')
    .option('--run <line>', 'run the app a --dmenu line names ("-": read the line from stdin)')
    .option('--sync', 'read the hosts’ desktop entries again first')
    .addHelpText(
      'after',
      `
towerd reads each host's desktop entries (and their icons) when it connects and after each package change there,
and writes one entry per app under $XDG_DATA_HOME/applications/tower/HOST/ (Name "[HOST] App", category
X-Tower-HOST), which desktop menus show. Each entry runs \`towerctl run HOST -- ARGV…\`: the app's Exec line split
as the Desktop Entry Specification says, never through a shell. menus.enabled and menus.hosts in towerd.json turn
menus off for all hosts or some.

Exit status: 0 ok, 1 no app matches the --run line (or nothing was chosen) or the run failed, 2 usage,
3 towerd not running, 4 the host is not connected.

Examples:
  $ towerctl menu
  HOST    NAME         ID                       COMMAND
  office  LibreOffice  libreoffice-startcenter  libreoffice
  work    Firefox      firefox                  firefox
  $ towerctl menu --dmenu | fuzzel --dmenu | towerctl menu --run -
  $ towerctl menu --run '[work] Firefox'
  a3
  $ towerctl menu work --json`,
    )
    .action(async (host: string | undefined, opts: MenuOptions, cmd: Command) => {
      if (opts.run !== undefined && opts.dmenu) throw new UsageError('--dmenu prints the lines and --run runs one: give one of them');
      let line = opts.run;
      if (line === '-') line = readFileSync(0, 'utf8').split('\n')[0] ?? '';
      if (line !== undefined && line.trim() === '') {
        process.stderr.write('towerctl menu: nothing chosen\n');
        process.exitCode = ExitCode.Failure;
        return;
      }
      await withClient(cmd, async (c) => {
        if (opts.sync) await c.call('menus.sync', host ? { host } : {});
        const r = await c.call('menus.list', host ? { host } : {});
        if (line !== undefined) {
          const app = appForLine(r.apps, line);
          if (!app) {
            process.stderr.write(`towerctl menu: no menu entry is ${JSON.stringify(esc(line.trim()))}; towerctl menu --dmenu lists them\n`);
            process.exitCode = ExitCode.Failure;
            return;
          }
          const ran = await c.call('apps.run', { host: app.host, argv: app.argv, env: graphicalEnv() });
          print(opts.json ? json(ran) : `${esc(ran.app.id)}\n`);
          return;
        }
        if (opts.dmenu) print(dmenuLines(r.apps).map((l) => esc(l) + '\n').join(''));
        else if (opts.json) print(json(r));
        else {
          print(menuRows(r.apps));
          for (const h of r.hosts) {
            if (!h.menu.enabled) continue;
            if (h.menu.lastError) process.stderr.write(`${h.name}: last sync ${ago(h.menu.lastSync)} failed: ${esc(h.menu.lastError)}\n`);
            else if (h.menu.refused) process.stderr.write(`${h.name}: ${h.menu.refused} entries or icons refused (towerctl logs says why)\n`);
          }
        }
      });
    });
}
