import { Command, CommanderError } from 'commander';
// only zod-free protocol modules are imported statically: towerctl's start-up time is measured
import { ErrorCode, ExitCode } from '../protocol/errors.js';
import { TOWER_VERSION } from '../protocol/version.js';
import { UsageError } from './context.js';
import { escapeControls } from './render.js';
import { ConnectionLostError, DaemonUnreachableError, RemoteError } from './rpc.js';
import { register as completion } from './commands/completion.js';
import { register as daemon } from './commands/daemon.js';
import { register as forward } from './commands/forward.js';
import { register as exec } from './commands/exec.js';
import { register as packages } from './commands/packages.js';
import { register as updates } from './commands/updates.js';
import { register as audit } from './commands/audit.js';
import { register as host } from './commands/host.js';
import { register as logs } from './commands/logs.js';
import { register as status } from './commands/status.js';
import { register as watch } from './commands/watch.js';
import { register as bar } from './commands/bar.js';
import { register as sway } from './commands/sway.js';
import { register as provision } from './commands/provision.js';
import { register as apps } from './commands/apps.js';
import { register as clip } from './commands/clip.js';
import { register as doctor } from './commands/doctor.js';
import { register as backup } from './commands/backup.js';

const EXIT_HELP = `
Exit status:
  0    success
  1    towerd refused or failed the request (the message says why)
  2    usage error: unknown command or option, missing argument, not confirmed
  3    towerd is not running or its socket cannot be reached
  4    a host could not be reached or a remote command failed
  130  interrupted

Environment:
  TOWER_SOCKET     socket path (same as --socket)
  XDG_RUNTIME_DIR  the default socket is $XDG_RUNTIME_DIR/tower/towerd.sock
  NO_COLOR         no colours; FORCE_COLOR forces them`;

/** Each command module with the top-level command names it registers, in help order. */
const COMMANDS: [names: string[], register: (program: Command) => void][] = [
  [['status'], status],
  [['host'], host],
  [['provision', 'deprovision', 'version'], provision],
  [['exec', 'ssh', 'poweroff'], exec],
  [['install', 'remove', 'upgrade', 'relay'], packages],
  [['updates'], updates],
  [['audit'], audit],
  [['backup'], backup],
  [['run', 'apps', 'close'], apps],
  [['clip'], clip],
  [['doctor'], doctor],
  [['forward'], forward],
  [['logs'], logs],
  [['daemon'], daemon],
  [['watch'], watch],
  [['bar'], bar],
  [['sway'], sway],
  [['completion'], completion],
];

/**
 * The command a command line names, if it is one of ours (skipping the global --socket option). Only that
 * command's module is set up then: a status bar or shell calls towerctl often, and building every command's
 * options and help text is most of its start-up work. Help, completion and unknown names get the whole tree.
 */
export function onlyCommand(argv: string[]): string | undefined {
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--socket') {
      i++;
      continue;
    }
    if (a.startsWith('--socket=')) continue;
    if (a.startsWith('-')) return undefined;
    return a === 'completion' || a === 'help' ? undefined : a;
  }
  return undefined;
}

export function buildProgram(only?: string): Command {
  const program = new Command('towerctl')
    .description('Control towerd, the Tower daemon: hosts, their state and logs.')
    .version(TOWER_VERSION, '-V, --version', 'print the version')
    .option('--socket <path>', 'towerd socket (default: $TOWER_SOCKET or $XDG_RUNTIME_DIR/tower/towerd.sock)')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_HELP)
    .exitOverride();
  const wanted = only ? COMMANDS.filter(([names]) => names.includes(only)) : [];
  for (const [, reg] of wanted.length ? wanted : COMMANDS) reg(program);
  // every subcommand exits through the same mapping of errors to codes
  const applyExitOverride = (cmd: Command) => {
    cmd.exitOverride();
    cmd.commands.forEach(applyExitOverride);
  };
  applyExitOverride(program);
  return program;
}

/**
 * The first word of a command line that names no command where one is expected, with the command it was given
 * to. Commander prints the general help for `towerctl NOSUCH --help` and exits 0, which a script reads as
 * success; checked before parsing, an unknown name is a usage error whatever follows it.
 */
export function unknownCommand(program: Command, args: string[]): { parent: Command; name: string } | undefined {
  let cmd = program;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return undefined;
    if (a.startsWith('-')) {
      // an option that takes a value (--socket PATH, on any level above) consumes the next word
      if (!a.includes('=') && optionTakesValue(cmd, a)) i++;
      continue;
    }
    // a command with arguments of its own reads this word as one
    if (cmd.commands.length === 0 || cmd.registeredArguments.length > 0) return undefined;
    // `help` names the command to show help for next: it is checked like any other word
    if (a === 'help') continue;
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (!sub) return { parent: cmd, name: a };
    cmd = sub;
  }
  return undefined;
}

function optionTakesValue(cmd: Command, flag: string): boolean {
  for (let c: Command | null = cmd; c; c = c.parent) {
    const o = c.options.find((x) => x.long === flag || x.short === flag);
    if (o) return o.required;
  }
  return false;
}

function fail(code: number, message: string): number {
  // towerd's messages carry hosts' words (apk's stderr, a relay target): never a raw control byte on the terminal
  process.stderr.write(`towerctl: ${escapeControls(message, true)}\n`);
  return code;
}

export async function run(argv: string[]): Promise<number> {
  const program = buildProgram(onlyCommand(argv));
  try {
    const unknown = unknownCommand(program, argv.slice(2));
    if (unknown) unknown.parent.error(`error: unknown command '${unknown.name}'`, { code: 'commander.unknownCommand', exitCode: ExitCode.Usage });
    await program.parseAsync(argv);
    // commands that pass a status through (exec, ssh) set it; the others succeed with 0
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.Ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version end here with code 0; commander already printed the message for real errors
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return ExitCode.Ok;
      if (err.code === 'commander.help') return ExitCode.Ok;
      return ExitCode.Usage;
    }
    if (err instanceof UsageError) return fail(ExitCode.Usage, err.message);
    if (err instanceof DaemonUnreachableError)
      return fail(
        ExitCode.DaemonUnreachable,
        `${err.message}\nStart it with 'towerd' (or 'systemctl --user start towerd'), or point --socket at it.`,
      );
    // invalid params come from what the user typed (a bad host name, say): a usage error
    if (err instanceof RemoteError) {
      const code = err.code === ErrorCode.InvalidParams ? ExitCode.Usage : err.code === ErrorCode.HostUnavailable ? ExitCode.RemoteFailure : ExitCode.Failure;
      return fail(code, err.message + detail(err));
    }
    if (err instanceof ConnectionLostError) return fail(ExitCode.DaemonUnreachable, err.message);
    return fail(ExitCode.Failure, err instanceof Error ? err.message : String(err));
  }
}

/** Invalid-params errors carry the offending fields; show them like a command-line error would. */
function detail(err: RemoteError): string {
  const data = err.data as { issues?: { path: (string | number)[]; message: string }[] } | undefined;
  if (!data?.issues?.length) return '';
  return data.issues.map((i) => `\n  ${i.path.join('.') || '(params)'}: ${i.message}`).join('');
}

/** The whole program: what the `towerctl` binary (and its start-up snapshot) runs. */
export async function main(argv: string[]): Promise<void> {
  // unless a command handles Ctrl-C itself (exec sends it to the host), it ends towerctl
  process.on('SIGINT', () => {
    if (process.listenerCount('SIGINT') === 1) process.exit(ExitCode.Interrupted);
  });
  // a closed pipe (towerctl status | head) is not an error worth a stack trace
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(ExitCode.Ok);
  });
  try {
    process.exitCode = await run(argv);
  } catch (err) {
    process.stderr.write(`towerctl: ${escapeControls(String(err), true)}\n`);
    process.exitCode = ExitCode.Failure;
  }
}
