import type { Command } from 'commander';
import { ExitCode } from '../../protocol/errors.js';
import { UsageError, print, socketPath } from '../context.js';
import { runOnStream } from '../exec-stream.js';
import { confirm } from '../prompt.js';
import { TowerClient } from '../rpc.js';
import { escapeControls as esc, json } from '../render.js';

/** Run argv (or the login shell) on a host through towerd and return the status to exit with. */
function runOnHost(cmd: Command, host: string, argv: string[], wantTty: boolean): Promise<number> {
  return runOnStream(cmd, 'exec.run', { host, argv }, wantTty && process.stdin.isTTY === true);
}

export function register(program: Command): void {
  program
    .command('exec')
    .description('Run a command on a host over its supervised connection; exit with the command’s status.')
    .argument('<host>', 'host name')
    .argument('<argv...>', 'the command and its arguments, after --')
    .option('-T, --no-tty', 'never allocate a terminal (default: one when stdin is a terminal)')
    .addHelpText(
      'after',
      `
The command runs exactly as given: every argument is quoted for the host's shell, so spaces, quotes, $, ;
and newlines reach the command unchanged. stdin, stdout and stderr are streamed. When stdin is a terminal a
terminal is allocated on the host (Ctrl-C and window size go there); otherwise Ctrl-C is sent as SIGINT.

Exit status: the command's own; 128+N when it died of signal N; 255 when it could not run or the connection to
the host was lost (as ssh); 3 when towerd is not running; 4 when the host is not connected.

Examples:
  $ towerctl exec work -- uname -a
  $ towerctl exec work -- sh -c 'echo "$HOME"'
  $ tar c photos | towerctl exec vault -- tar x -C /data`,
    )
    .action(async (host: string, argv: string[], opts: { tty?: boolean }, cmd: Command) => {
      if (argv.length === 0) throw new UsageError('give the command to run after --');
      process.exitCode = await runOnHost(cmd, host, argv, opts.tty !== false);
    });

  program
    .command('ssh')
    .description('Open an interactive login shell on a host over its supervised connection.')
    .argument('<host>', 'host name')
    .action(async (host: string, _opts: unknown, cmd: Command) => {
      process.exitCode = await runOnHost(cmd, host, [], true);
    });

  program
    .command('poweroff')
    .description('Power hosts off (all hosts when none is named).')
    .argument('[host...]', 'hosts to power off')
    .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--json', 'print the results as JSON')
    .action(async (hosts: string[], opts: { yes?: boolean; json?: boolean }, cmd: Command) => {
      const client = await TowerClient.connect(socketPath(cmd));
      try {
        const names = hosts.length ? hosts : (await client.call('host.list')).hosts.map((h) => h.name);
        if (names.length === 0) throw new UsageError('there are no hosts');
        if (!opts.yes && !(await confirm(`Power off ${esc(names.join(', '))}?`))) throw new UsageError('not confirmed; nothing was done');
        const { results } = await client.call('host.poweroff', { names });
        print(opts.json ? json(results) : results.map((r) => `${esc(r.name)}: ${r.ok ? '' : 'FAILED: '}${esc(r.message)}\n`).join(''));
        if (results.some((r) => !r.ok)) process.exitCode = ExitCode.RemoteFailure;
      } finally {
        client.close();
      }
    });
}
