import type { Command } from 'commander';
import type { AppInfo, ViewerEnv } from '../../protocol/index.js';
import { print, withClient } from '../context.js';
import { escapeControls as esc, formatDuration, json, table } from '../render.js';

/** Only these variables of towerctl's environment go to towerd, which starts the viewer in it. */
export function graphicalEnv(env: NodeJS.ProcessEnv = process.env): ViewerEnv {
  const out: ViewerEnv = {};
  if (env.WAYLAND_DISPLAY) out.WAYLAND_DISPLAY = env.WAYLAND_DISPLAY;
  if (env.DISPLAY) out.DISPLAY = env.DISPLAY;
  if (env.XDG_RUNTIME_DIR) out.XDG_RUNTIME_DIR = env.XDG_RUNTIME_DIR;
  return out;
}

function quoteArg(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export function appRows(apps: AppInfo[], now = Date.now()): string {
  if (apps.length === 0) return 'No apps.\n';
  return table(
    ['ID', 'HOST', 'UPTIME', 'STATE', 'VIEWER', 'DISPLAY', 'PID', 'COMMAND'],
    apps.map((a) => [
      esc(a.id),
      esc(a.host),
      formatDuration(now - Date.parse(a.startedAt)),
      a.state,
      a.viewer,
      esc(a.display ?? '-'),
      a.pid === null ? '-' : String(a.pid),
      esc(a.argv.map(quoteArg).join(' ')),
    ]),
  );
}

export function register(program: Command): void {
  program
    .command('run')
    .description('Run a graphical app on a host and show it here in a window of its own.')
    .argument('<host>', 'host name')
    .argument('<app...>', 'the program and its arguments (use -- before them when an argument starts with -)')
    .option('--json', 'print the app as JSON')
    .allowUnknownOption()
    .addHelpText(
      'after',
      `
The app runs on HOST with exactly this argv (every word reaches it unchanged) inside its own X display (Xvnc with a window
manager that keeps it maximized), and a VNC viewer (desktop.viewer in towerd.json, TigerVNC's vncviewer by default)
shows it here. The window title starts with [HOST] and its class is tower-HOST, which \`towerctl sway rules\`
colours. When sway resizes the window, the app's display follows; menus and dialogs are part of the display, so
they show even where they leave the app's frame.

towerctl passes WAYLAND_DISPLAY, DISPLAY and XDG_RUNTIME_DIR (nothing else) to towerd, which starts the viewer, and
returns once the viewer shows the app, printing its id. Closing the window closes the app (politely, then TERM);
the app exiting closes the window. If the host drops off the network the app keeps running there and its window
comes back when the host does.

Exit status: 0 shown, 1 refused or failed (e.g. the program is not installed on HOST), 2 usage (also: no DISPLAY
or WAYLAND_DISPLAY here), 3 towerd not running, 4 HOST not connected.

Examples:
  $ towerctl run work firefox
  a1
  $ towerctl run office -- xterm -e htop
  $ towerctl run --json vault keepassxc`,
    )
    .action(async (host: string, argv: string[], opts: { json?: boolean }, cmd: Command) => {
      const r = await withClient(cmd, (c) => c.call('apps.run', { host, argv, env: graphicalEnv() }));
      print(opts.json ? json(r) : `${esc(r.app.id)}\n`);
    });

  program
    .command('apps')
    .description('List the apps running on hosts, most recently started first.')
    .argument('[host]', 'only this host’s apps')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      `
Columns: ID (for towerctl close), HOST, UPTIME, STATE (starting, running, closing), VIEWER (attached: a window
shows the app; detached: the host is away or the window is being reopened), DISPLAY and PID on the host, COMMAND.

Example:
  $ towerctl apps
  ID  HOST  UPTIME  STATE    VIEWER    DISPLAY  PID  COMMAND
  a1  work  12m04s  running  attached  :0       57   firefox`,
    )
    .action(async (host: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const { apps } = await withClient(cmd, (c) => c.call('apps.list', host ? { host } : {}));
      print(opts.json ? json(apps) : appRows(apps));
    });

  program
    .command('close')
    .description('Close an app: its windows get WM_DELETE_WINDOW, then TERM after the grace period.')
    .argument('<id>', 'app id, as `towerctl apps` lists it')
    .option('--json', 'print the closed app as JSON')
    .addHelpText(
      'after',
      `
Waits until the app has exited (at most twice desktop.closeGraceMs plus 5 s). Exit status 4 when the host is not
connected.

Example:
  $ towerctl close a1
  closed a1 (exit status 0)`,
    )
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const { app } = await withClient(cmd, (c) => c.call('apps.close', { id }));
      print(opts.json ? json(app) : `closed ${esc(app.id)}${app.exitCode === null ? '' : ` (exit status ${app.exitCode})`}\n`);
    });
}
