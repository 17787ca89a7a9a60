import { Option, type Command } from 'commander';
import { ExitCode } from '../../protocol/errors.js';
import { BUTTON_LEFT, BUTTON_RIGHT, LineSplitter, parseClickLine, type Click } from '../bar/clicks.js';
import { DEFAULT_DETAILS_CMD, TemplateError, detailsArgv, launch, splitWords } from '../bar/details.js';
import { HOST_BLOCK } from '../bar/i3bar.js';
import { TowerLink } from '../bar/link.js';
import { ChangePrinter, FORMATS, type Format } from '../bar/output.js';
import { UsageError, socketPath } from '../context.js';
import { escapeControls } from '../render.js';

const HELP = `
Stays connected to towerd and prints a line each time something the bar shows changes: a host added,
removed or changing state, the registry on disk becoming invalid, towerd stopping or coming back. Nothing
is printed otherwise: there is no polling, every line follows an event that towerd pushed, and a line that
would equal the previous one is not printed. When towerd is not running the bar shows "towerd down" and
connects again as soon as it is back (first after 0.5 s, then doubling up to every 5 s).

Formats:
  i3bar   swaybar's and i3bar's JSON protocol (swaybar-protocol(7)) with click events. A summary block
          ("tower 3/4 · 1 down"), then one block per host: its name on its colour (as in its windows'
          title bars), then its round trip when online ("work 0.4ms") or a marker and its state
          ("mail ✖ offline"). auth-failed and hostkey-mismatch are urgent. Clicks on a host block:
            left   reconnect now (skips the reconnect backoff; after auth-failed too)
            right  run the details command for that host
  waybar  a custom module in continuous mode ("return-type": "json", no "interval"): one JSON object
          per change with text ("⬤ 3/4"), a tooltip with every host in its colour, class (one of
          all-online, some-down, unsupervised, no-hosts, daemon-down; then alert, registry-invalid),
          percentage (hosts online) and alt (the first class). Waybar sends no clicks to modules: use
          its on-click settings.

Details command (--details-cmd):
  Split into words as a shell would (quotes and backslashes only; nothing is expanded) and run without a
  shell, in its own process group, with TOWER_SOCKET set to this bar's socket. {host} in any word becomes
  the host name; without {host} the name is appended as the last argument. The default opens foot (sway's
  default terminal) on "towerctl host show NAME"; --details-cmd '' turns right clicks off.

Examples:
  sway, in ~/.config/sway/config (or include client/sway/tower.conf, which also has key bindings and
  window colours):
    bar {
        status_command towerctl bar --format i3bar
    }
  with another terminal for the details:
        status_command towerctl bar --details-cmd 'alacritty --hold -e towerctl host show {host}'

  waybar, in ~/.config/waybar/config ("custom/tower" in modules-right):
    "custom/tower": {
        "exec": "towerctl bar --format waybar",
        "return-type": "json",
        "on-click": "foot --hold towerctl status"
    }
  and in ~/.config/waybar/style.css:
    #custom-tower.some-down, #custom-tower.daemon-down { color: #ff5555; }

  By hand; clicks are lines on stdin, "[" first (as swaybar sends them):
    $ towerctl bar
    {"version":1,"click_events":true}
    [
    [{"name":"tower-summary","full_text":"tower 1/1",...},{"name":"tower-host","instance":"work",...}]
    [
    {"name":"tower-host","instance":"work","button":3}

Runs until stopped. An unreachable towerd is shown, not an error. Exit status: 0 when the bar closes its
output, 2 on a bad option, 130 when interrupted.`;

interface BarOptions {
  format: Format;
  detailsCmd: string;
}

function warn(message: string): void {
  process.stderr.write(`towerctl bar: ${escapeControls(message)}\n`);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Clicks only ever act on hosts the bar shows: a click line is input, whatever wrote it. */
function onClick(click: Click, link: TowerLink, template: string[], socket: string): void {
  if (click.name !== HOST_BLOCK || click.instance === undefined || !link.knows(click.instance)) return;
  const name = click.instance;
  if (click.button === BUTTON_LEFT) {
    // success shows itself: the host's state events redraw the bar
    link.reconnect(name).catch((err: unknown) => warn(`host.reconnect ${name}: ${errorText(err)}`));
  } else if (click.button === BUTTON_RIGHT && template.length > 0) {
    const argv = detailsArgv(template, name);
    launch(argv, { ...process.env, TOWER_SOCKET: socket }).catch((err: unknown) => warn(`details command ${argv[0]}: ${errorText(err)}`));
  }
}

function readClicks(onLine: (line: string) => void): void {
  const lines = new LineSplitter();
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => lines.push(chunk).forEach(onLine));
  process.stdin.on('error', () => undefined); // no more clicks; the status keeps going
}

export function register(program: Command): void {
  program
    .command('bar')
    .description('Status for swaybar/i3bar or waybar: hosts and their states, one line per change.')
    .addOption(new Option('--format <format>', 'output protocol').choices(FORMATS).default('i3bar'))
    .option('--details-cmd <command>', 'run on a right click on a host ({host} is its name)', DEFAULT_DETAILS_CMD)
    .addHelpText('after', HELP)
    .action(async (opts: BarOptions, cmd: Command) => {
      let template: string[];
      try {
        template = splitWords(opts.detailsCmd);
      } catch (err) {
        if (err instanceof TemplateError) throw new UsageError(`--details-cmd: ${err.message}`);
        throw err;
      }
      const socket = socketPath(cmd);
      // the bar went away: nobody is left to tell
      process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? ExitCode.Ok : ExitCode.Failure));
      process.stderr.on('error', () => undefined);
      const out = new ChangePrinter(opts.format, (text) => process.stdout.write(text));
      out.start();
      const link = new TowerLink(socket, (view) => out.show(view));
      if (opts.format === 'i3bar')
        readClicks((line) => {
          const click = parseClickLine(line);
          if (click) onClick(click, link, template, socket);
        });
      link.start();
      // runs until a signal or a closed output ends the process; the link always holds a socket or a timer
      await new Promise<never>(() => undefined);
    });
}
