import type { Command } from 'commander';
import type { RotationResult } from '../../protocol/index.js';
import { ErrorCode, ExitCode } from '../../protocol/errors.js';
import { UsageError, print, withClient } from '../context.js';
import { escapeControls as esc, json } from '../render.js';
import { RemoteError } from '../rpc.js';

/** One host's outcome, as --json prints it. */
export interface RotateKeyOutcome {
  host: string;
  ok: boolean;
  /** the rotation's result when ok */
  result?: RotationResult;
  /** why not, when not ok */
  error?: string;
  code: number;
}

const AFTER = `
Gives each host a new ed25519 client key: the new public key is added to the host's ~/.ssh/authorized_keys over
its current connection, a second connection made with the new key proves it, then the new key replaces
~/.local/tower/hosts/HOST/id_ed25519 here and the old key is removed from the host. The host stays online
throughout. Each step is journaled in hosts/HOST/rotate-key.json: if towerd stops half-way, it finishes the
rotation (or rolls it back, when the new key was not proven yet) the next time the host connects.

With --all, every connected host in turn (hosts that are not connected are listed and left alone).

Exit status: 0 when every host got its new key; 4 when a host is not connected or its rotation failed (the message
says which key it keeps); 1 when towerd refused.

Examples:
  $ towerctl host rotate-key office
  $ towerctl host rotate-key --all
  $ towerctl host rotate-key web --json`;

function codeOf(err: unknown): number {
  if (!(err instanceof RemoteError)) return ExitCode.Failure;
  if (err.code === ErrorCode.InvalidParams) return ExitCode.Usage;
  if (err.code === ErrorCode.HostUnavailable || err.code === ErrorCode.KeyRotationFailed) return ExitCode.RemoteFailure;
  return ExitCode.Failure;
}

export function registerRotateKey(host: Command): void {
  host
    .command('rotate-key')
    .description('Replace a host’s client key with a new one, proven before the old one is removed.')
    .argument('[host]', 'host name')
    .option('--all', 'every connected host, one after the other')
    .option('--json', 'print the results as JSON')
    .addHelpText('after', AFTER)
    .action(async (name: string | undefined, opts: { all?: boolean; json?: boolean }, cmd: Command) => {
      if (opts.all && name) throw new UsageError('give a host name or --all, not both');
      if (!opts.all && !name) throw new UsageError('give a host name or --all');
      const say = (s: string) => process.stderr.write(s);
      const outcomes: RotateKeyOutcome[] = [];
      await withClient(cmd, async (c) => {
        let names: string[];
        if (opts.all) {
          const { hosts } = await c.call('host.list');
          names = [];
          for (const h of hosts) {
            if (h.state === 'online') names.push(h.name);
            else {
              const error = `${h.name} is not connected (${h.state}); its key was not rotated`;
              outcomes.push({ host: h.name, ok: false, error, code: ExitCode.RemoteFailure });
              if (!opts.json) say(`${esc(error)}\n`);
            }
          }
        } else names = [name!];
        for (const [i, n] of names.entries()) {
          if (!opts.json && names.length > 1) say(`[${i + 1}/${names.length}] ${esc(n)}: rotating…\n`);
          try {
            const result = await c.call('keys.rotate', { host: n });
            outcomes.push({ host: n, ok: true, result, code: 0 });
            if (!opts.json) print(`${esc(n)}: new key ${esc(result.fingerprint)} in use; the old key was removed from ${esc(n)} (${(result.durationMs / 1000).toFixed(1)} s)\n`);
          } catch (err) {
            if (!(err instanceof RemoteError)) throw err;
            outcomes.push({ host: n, ok: false, error: err.message, code: codeOf(err) });
            if (!opts.json) say(`towerctl: ${esc(err.message, true)}\n`);
          }
        }
      });
      if (opts.json) print(json(outcomes));
      else if (opts.all) {
        const ok = outcomes.filter((o) => o.ok).length;
        print(`${ok} of ${outcomes.length} host${outcomes.length === 1 ? '' : 's'} rotated${ok < outcomes.length ? `; not rotated: ${outcomes.filter((o) => !o.ok).map((o) => esc(o.host)).join(', ')}` : ''}\n`);
      }
      process.exitCode = Math.max(0, ...outcomes.map((o) => o.code));
    });
}
