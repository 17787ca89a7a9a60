import type { Command } from 'commander';
import { ErrorCode, ExitCode } from '../../protocol/errors.js';
import { UsageError, print, withClient } from '../context.js';
import { runOnStream } from '../exec-stream.js';
import { escapeControls as esc, json } from '../render.js';
import { RemoteError } from '../rpc.js';

export interface SetupResult {
  host: string;
  /** the packages that were missing when checked */
  missing: string[];
  /** what apk installed (nothing on a dry run, or when nothing was missing) */
  installed: string[];
  /** programs still missing afterwards */
  stillMissing: string[];
  code: number;
  error?: string;
}

const AFTER = `
Checks with one command on each host (command -v) which of the programs Tower runs there are missing (Xvnc, xauth,
openbox, xprop, xdotool, xrandr, xclip, flock, setsid, od: README "Host packages"), then installs their
Alpine packages with apk exactly as \`towerctl install HOST PKG...\` does: offline hosts through the package relay,
apk's progress shown, the host's world file saved. A host that has everything gets nothing installed. The router is
left out of --all: it runs no apps.

Exit status: apk's own (0 when nothing was missing); 1 when a program is still missing after apk; 4 when a host (or,
for an offline host, the router) is not connected.

Examples:
  $ towerctl host setup office
  $ towerctl host setup --all --dry-run`;

/** As towerctl's own mapping: a name towerd rejects is a usage error, a host not connected a remote failure. */
function failureCode(err: unknown): number {
  if (!(err instanceof RemoteError)) return ExitCode.Failure;
  if (err.code === ErrorCode.InvalidParams) return ExitCode.Usage;
  return err.code === ErrorCode.HostUnavailable ? ExitCode.RemoteFailure : ExitCode.Failure;
}

/** One host: check, install what is missing through packages.run, check again. Progress goes to stderr. */
export async function setupHost(cmd: Command, host: string, opts: { dryRun?: boolean; json?: boolean } = {}): Promise<SetupResult> {
  const say = (s: string) => process.stderr.write(s);
  const res: SetupResult = { host, missing: [], installed: [], stillMissing: [], code: 0 };
  try {
    const before = await withClient(cmd, (c) => c.call('setup.check', { host }));
    res.missing = before.missing;
    const lacking = before.tools.filter((t) => !t.present).map((t) => t.tool);
    if (before.missing.length === 0) {
      say(`${host}: nothing to install: every program Tower needs is there (${before.tools.map((t) => t.tool).join(', ')})\n`);
      return res;
    }
    if (opts.dryRun) {
      say(`${host}: would install ${before.missing.join(' ')} (missing: ${lacking.join(', ')})\n`);
      return res;
    }
    say(`${host}: installing ${before.missing.join(' ')} (missing: ${lacking.join(', ')})\n`);
    const tty = !opts.json && process.stdin.isTTY === true && process.stdout.isTTY === true;
    // with --json stdout holds only the JSON: apk's own output goes to stderr meanwhile
    const write = process.stdout.write.bind(process.stdout);
    if (opts.json) process.stdout.write = process.stderr.write.bind(process.stderr);
    try {
      res.code = await runOnStream(cmd, 'packages.run', { host, action: 'add', packages: before.missing }, tty, (r) => {
        if (r.relayed) say(`${host} is offline: apk goes through the package relay (router)\n`);
      });
    } finally {
      process.stdout.write = write;
    }
    if (res.code !== 0) return res;
    res.installed = before.missing;
    const after = await withClient(cmd, (c) => c.call('setup.check', { host }));
    res.stillMissing = after.tools.filter((t) => !t.present).map((t) => t.tool);
    if (res.stillMissing.length) {
      res.code = ExitCode.Failure;
      res.error = `still missing after apk: ${res.stillMissing.join(', ')}`;
      say(`${host}: ${res.error}\n`);
    } else say(`${host}: done: every program Tower needs is there\n`);
  } catch (err) {
    res.code = failureCode(err);
    res.error = (err as Error).message;
    say(`towerctl: ${host}: ${esc(res.error, true)}\n`);
  }
  return res;
}

export function registerSetup(host: Command): void {
  host
    .command('setup')
    .description('Install on hosts what Tower needs there and they lack (through apk, as towerctl install).')
    .argument('[hosts...]', 'host names')
    .option('--all', 'every host but the router')
    .option('--dry-run', 'only say what would be installed')
    .option('--json', 'print the results as JSON (apk’s output goes to stderr)')
    .addHelpText('after', AFTER)
    .action(async (hosts: string[], opts: { all?: boolean; dryRun?: boolean; json?: boolean }, cmd: Command) => {
      if (opts.all && hosts.length) throw new UsageError('give host names or --all, not both');
      const names = opts.all ? await withClient(cmd, async (c) => (await c.call('host.list')).hosts.filter((h) => h.role !== 'router').map((h) => h.name)) : hosts;
      if (names.length === 0) throw new UsageError('give host names or --all');
      const results: SetupResult[] = [];
      for (const h of names) results.push(await setupHost(cmd, h, opts));
      if (opts.json) print(json(results));
      process.exitCode = Math.max(0, ...results.map((r) => r.code));
    });
}
