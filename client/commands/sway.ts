import type { Command } from 'commander';
import { UsageError, print, withClient } from '../context.js';
import { swayRules } from '../sway/rules.js';

export function register(program: Command): void {
  const sway = program.command('sway').description('Configuration for the sway window manager.');
  sway
    .command('rules')
    .description('Print sway for_window rules that label every host’s windows in the host’s colour.')
    .option('--border <px>', 'border width of host windows, in pixels (0–20)', '3')
    .addHelpText(
      'after',
      `
For every registered host, windows whose app_id (Wayland) or class (Xwayland) is tower-NAME get a title bar
that starts with the host's name on its colour, and a border of --border pixels. sway has no per-window
border colour, so the colour is in the title: the rules use pango markup, which sway only renders when its
font is given as "pango:…" (client/sway/tower.conf sets one). Run it again after adding or removing hosts.

Examples:
  $ towerctl sway rules > ~/.config/sway/tower-hosts.conf && swaymsg reload
  with this line in ~/.config/sway/config (a missing file is not an error):
    include ~/.config/sway/tower-hosts.conf

  $ towerctl sway rules
  # work: #cd0000
  for_window [app_id="^tower-work$"] border normal 3
  for_window [app_id="^tower-work$"] title_format "<span background='#cd0000' foreground='#ffffff'> work </span> %title"
  …`,
    )
    .action(async (opts: { border: string }, cmd: Command) => {
      const border = Number(opts.border);
      if (!Number.isInteger(border) || border < 0 || border > 20) throw new UsageError('--border takes a number of pixels from 0 to 20');
      const { hosts } = await withClient(cmd, (c) => c.call('host.list'));
      print(swayRules(hosts, { border }));
    });
  sway
    .command('menu')
    .description('Print a sway key binding that opens the hosts’ app menu in a dmenu-style launcher.')
    .option('--key <combo>', 'the key combination', '$mod+Shift+d')
    .option('--launcher <cmd>', 'the launcher in dmenu mode, reading lines on stdin and printing the chosen one', 'fuzzel --dmenu')
    .addHelpText(
      'after',
      `
The binding pipes \`towerctl menu --dmenu\` (one "[HOST] App" line per app) through the launcher and hands the
chosen line to \`towerctl menu --run -\`, which runs it on its host. wofi: --launcher 'wofi --dmenu'; bemenu:
--launcher bemenu.

Examples:
  $ towerctl sway menu >> ~/.config/sway/config && swaymsg reload
  $ towerctl sway menu
  bindsym $mod+Shift+d exec towerctl menu --dmenu | fuzzel --dmenu | towerctl menu --run -`,
    )
    .action((opts: { key: string; launcher: string }) => {
      if (!/^[\w$+-]{1,64}$/.test(opts.key)) throw new UsageError('--key takes a sway key combination such as $mod+Shift+d');
      if (/[\n\r]/.test(opts.launcher) || opts.launcher.length > 512 || !opts.launcher.trim()) throw new UsageError('--launcher takes one command line');
      print(`bindsym ${opts.key} exec towerctl menu --dmenu | ${opts.launcher} | towerctl menu --run -\n`);
    });
}
