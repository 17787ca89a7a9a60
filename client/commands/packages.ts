import type { Command } from 'commander';
import type { Result } from '../../protocol/index.js';
import type { PackageAction } from '../../protocol/packages.js';
import { UsageError, print, withClient } from '../context.js';
import { runOnStream } from '../exec-stream.js';
import { escapeControls as esc, json, table } from '../render.js';

/** Run one apk action on one host, streaming apk's output (its own progress bar on a terminal); returns apk's status. */
function runApk(cmd: Command, host: string, action: PackageAction, packages: string[]): Promise<number> {
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
  return runOnStream(cmd, 'packages.run', { host, action, packages }, tty, (r) => {
    if (r.relayed) process.stderr.write(`${host} is offline: apk goes through the package relay (router)\n`);
  });
}

const AFTER = `
Offline hosts fetch through Tower's package relay: an HTTP proxy that only lets requests through to the
allow-listed repository hosts (towerd.json packages.relay.allow; default dl-cdn.alpinelinux.org on ports 80 and
443; CONNECT only to 443 and only for TLS naming that host), reached over the host's own SSH connection and going
out through the router's. Nothing on the host is
changed for it: apk gets http_proxy/https_proxy for that one command. apk still checks every package's signature
against the host's own keys, so the relay is trusted with availability, not integrity. Online hosts and the router
go out directly. After a successful change the host's /etc/apk/world is saved to ~/.local/tower/hosts/NAME/world.

Exit status: apk's own; 4 when the host (or, for an offline host, the router) is not connected; 255 when the
connection was lost during the command.`;

/** `towerctl relay`: per host its counts, then its recent requests. Targets and reasons are what a host sent. */
export function renderRelayTrail(hosts: Result<'relay.trail'>['hosts']): string {
  let out = '';
  for (const h of hosts) {
    out += `${esc(h.name)}: ${h.fetches} fetched (${h.bytes} bytes received, ${h.sent} sent), ${h.refusals} refused, ${h.failures} failed\n`;
    out += table(['TIME', 'KIND', 'REQUEST', 'STATUS', 'RECEIVED', 'SENT', 'REASON'], h.recent.map((r) => [new Date(r.time).toISOString().slice(11, 19), esc(r.kind), esc(`${r.method} ${r.target}`), r.status === undefined ? '' : String(r.status), String(r.bytes), String(r.sent), esc(r.reason ?? '')]));
  }
  return out;
}

export function register(program: Command): void {
  for (const [name, action, what] of [
    ['install', 'add', 'Install packages on a host with apk.'],
    ['remove', 'del', 'Remove packages from a host with apk.'],
  ] as const) {
    program
      .command(name)
      .description(what)
      .argument('<host>', 'host name')
      .argument('<packages...>', 'apk package names')
      .addHelpText('after', `${AFTER}\n\nExample:\n  $ towerctl ${name} office ${action === 'add' ? 'libreoffice' : 'vim'}`)
      .action(async (host: string, packages: string[], _opts: unknown, cmd: Command) => {
        process.exitCode = await runApk(cmd, host, action, packages);
      });
  }

  program
    .command('upgrade')
    .description('Upgrade every package on hosts with apk (one host after another).')
    .argument('[hosts...]', 'host names')
    .option('--all', 'every host')
    .addHelpText('after', `${AFTER}\n\nExamples:\n  $ towerctl upgrade office\n  $ towerctl upgrade --all`)
    .action(async (hosts: string[], opts: { all?: boolean }, cmd: Command) => {
      if (opts.all && hosts.length) throw new UsageError('give host names or --all, not both');
      const names = opts.all ? await withClient(cmd, async (c) => (await c.call('host.list')).hosts.map((h) => h.name)) : hosts;
      if (names.length === 0) throw new UsageError('give host names or --all');
      let worst = 0;
      for (const host of names) {
        if (names.length > 1) process.stderr.write(`\n== ${host}\n`);
        let code: number;
        try {
          code = await runApk(cmd, host, 'upgrade', []);
        } catch (err) {
          process.stderr.write(`towerctl: ${host}: ${esc((err as Error).message, true)}\n`);
          code = 4;
        }
        worst = Math.max(worst, code);
      }
      process.exitCode = worst;
    });

  program
    .command('relay')
    .description('What the package relay fetched for each host and what it refused, most recent first.')
    .argument('[host]', 'only this host')
    .option('-n, --lines <n>', 'recent records per host (1–1000)', '20')
    .option('--json', 'print as JSON')
    .action(async (host: string | undefined, opts: { lines: string; json?: boolean }, cmd: Command) => {
      const limit = Number(opts.lines);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--lines takes a number from 1 to 1000');
      const { hosts } = await withClient(cmd, (c) => c.call('relay.trail', host ? { host, limit } : { limit }));
      if (opts.json) return print(json(hosts));
      if (hosts.length === 0) return print('The relay has not been used since towerd started.\n');
      print(renderRelayTrail(hosts));
    });
}
