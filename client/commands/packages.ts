import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Result, WorldDiff } from '../../protocol/index.js';
import type { PackageAction } from '../../protocol/packages.js';
import { UsageError, print, withClient } from '../context.js';
import { runOnStream } from '../exec-stream.js';
import { escapeControls as esc, json, table } from '../render.js';

/** Run one apk action on one host, streaming apk's output (its own progress bar on a terminal); returns apk's status. */
function runApk(cmd: Command, host: string, action: PackageAction, packages: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const tty = process.stdin.isTTY === true && out === process.stdout && process.stdout.isTTY === true;
  return runOnStream(cmd, 'packages.run', { host, action, packages }, tty, (r) => {
    if (r.relayed) process.stderr.write(`${host} is offline: apk goes through the package relay (router)\n`);
  }, out);
}

/** A world difference in words: what is (or was) added, what was there, what the host has beyond it. */
export function renderWorldDiff(d: WorldDiff, opts: { done: boolean; exact: boolean }): string {
  const list = (xs: string[]) => (xs.length ? xs.map((x) => esc(x)).join(' ') : '-');
  let out = `${esc(d.host)}: saved world ${esc(d.source)}, ${d.wanted.length} package${d.wanted.length === 1 ? '' : 's'}\n`;
  out += `  ${opts.done ? 'added  ' : 'to add '}  ${list(d.missing)}\n`;
  out += `  already    ${list(d.present)}\n`;
  out += `  extra      ${list(d.extra)}${d.extra.length ? (opts.exact ? (opts.done ? '  (removed: --exact)' : '  (to remove: --exact)') : '  (on the host, not in the saved world; kept)') : ''}\n`;
  return out;
}

interface WorldOptions {
  world?: boolean;
  from?: string;
  dryRun?: boolean;
  exact?: boolean;
  json?: boolean;
}

/** `towerctl install HOST --world`: the difference, then apk add of what is missing (and, with --exact, del of the extra). */
async function installWorld(cmd: Command, host: string, opts: WorldOptions): Promise<number> {
  let given: { text: string; from: string } | undefined;
  if (opts.from !== undefined) {
    const path = resolve(opts.from);
    try {
      given = { text: readFileSync(path, 'utf8'), from: path };
    } catch (err) {
      throw new UsageError(`cannot read --from ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const diff = await withClient(cmd, (c) => c.call('packages.world', given ? { host, ...given } : { host }));
  const extra = opts.exact ? [...new Set(diff.extra.map((e) => e.split(/[@=<>~]/)[0]!))] : [];
  if (opts.dryRun) {
    print(opts.json ? json({ ...diff, dryRun: true, removed: [] }) : renderWorldDiff(diff, { done: false, exact: Boolean(opts.exact) }));
    return 0;
  }
  // apk's output goes to stderr with --json, so that stdout is the one JSON document
  const apkOut = opts.json ? process.stderr : process.stdout;
  let code = 0;
  if (diff.missing.length) code = await runApk(cmd, host, 'add', diff.missing, apkOut);
  else process.stderr.write(`${host}: every package of the saved world is installed\n`);
  if (code === 0 && extra.length) code = await runApk(cmd, host, 'del', extra, apkOut);
  if (opts.json) print(json({ ...diff, dryRun: false, removed: code === 0 ? extra : [], code }));
  else print(renderWorldDiff(diff, { done: code === 0, exact: Boolean(opts.exact) }));
  if (code !== 0) process.stderr.write(`towerctl: ${host}: apk exited with ${code}; the saved world is not fully restored (run the same command again)\n`);
  return code;
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

const WORLD_HELP = `
With --world, the host's saved world (~/.local/tower/hosts/HOST/world, saved after each package change; or
--from FILE in the same format: one apk world entry a line, e.g. firefox, py3-pip=23.1-r0, foo>1, bar@testing)
is compared with the host's /etc/apk/world and what is missing is installed, the same way as above (offline
hosts through the relay). It prints what was added, what was already there and what the host has beyond the
saved world; those extra packages are kept unless --exact removes them. --dry-run only prints the difference.
A line that is not a world entry is refused with its line number and nothing is installed.`;

export function register(program: Command): void {
  program
    .command('install')
    .description('Install packages on a host with apk, or restore its saved package list (--world).')
    .argument('<host>', 'host name')
    .argument('[packages...]', 'apk package names')
    .option('--world', "restore the host's saved world: install what is missing")
    .option('--from <file>', 'with --world: this world file instead of the saved one')
    .option('--dry-run', 'with --world: print the difference, install nothing')
    .option('--exact', 'with --world: also remove what the host has beyond the saved world')
    .option('--json', 'with --world: print the difference (and apk status) as JSON; apk output goes to stderr')
    .addHelpText(
      'after',
      `${AFTER}\n${WORLD_HELP}\n\nExamples:\n  $ towerctl install office libreoffice\n  $ towerctl install office --world --dry-run\n  $ towerctl install office --world --from ./office.world --json`,
    )
    .action(async (host: string, packages: string[], opts: WorldOptions, cmd: Command) => {
      if (opts.world) {
        if (packages.length) throw new UsageError('give package names or --world, not both');
        process.exitCode = await installWorld(cmd, host, opts);
        return;
      }
      if (opts.from !== undefined || opts.dryRun || opts.exact || opts.json) throw new UsageError('--from, --dry-run, --exact and --json go with --world');
      if (packages.length === 0) throw new UsageError('give the packages to install, or --world');
      process.exitCode = await runApk(cmd, host, 'add', packages);
    });

  program
    .command('remove')
    .description('Remove packages from a host with apk.')
    .argument('<host>', 'host name')
    .argument('<packages...>', 'apk package names')
    .addHelpText('after', `${AFTER}\n\nExample:\n  $ towerctl remove office vim`)
    .action(async (host: string, packages: string[], _opts: unknown, cmd: Command) => {
      process.exitCode = await runApk(cmd, host, 'del', packages);
    });

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
