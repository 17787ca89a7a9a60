import type { Command } from 'commander';
import { ExitCode } from '../../protocol/errors.js';
import type { AlpineRelease } from '../../protocol/host.js';
import type { HostUpdates, UpdateResult } from '../../protocol/updates.js';
import { UsageError, print, withClient } from '../context.js';
import { ago, escapeControls as esc, formatDuration, json, table } from '../render.js';

/** "in 3h05m", "now", "-" */
function until(iso: string | null, now = Date.now()): string {
  if (iso === null) return '-';
  const ms = Date.parse(iso) - now;
  return ms <= 1000 ? 'now' : `in ${formatDuration(ms)}`;
}

function lastText(u: HostUpdates): string {
  const l = u.last;
  if (!l) return 'never';
  const what = l.kind === 'check' ? `check ${l.result}` : l.result;
  const n = l.upgraded.length ? ` (${l.upgraded.length} upgraded)` : '';
  return `${what} ${ago(l.at)}${n}${l.reason ? `: ${esc(l.reason)}` : ''}`;
}

/** "musl 1.2.4-r4 → 1.2.4-r5, …": names and versions are apk's output */
const upgradesText = (ps: { name: string; from: string; to: string }[]) => esc(ps.map((p) => `${p.name} ${p.from} → ${p.to}`).join(', '));

/** "v3.19 EOL 2025-11-01", "v3.22 to 2027-05-01", "edge", "v3.9 unknown", "?" */
export function branchText(r: AlpineRelease | undefined): string {
  if (!r) return '?';
  const b = esc(r.branch ?? '?');
  switch (r.status) {
    case 'eol':
      return `${b} EOL ${r.eol}`;
    case 'supported':
      return `${b} to ${r.eol}`;
    case 'edge':
      return b;
    case 'unknown':
      return r.branch ? `${b} unknown` : 'unknown';
  }
}

/** The warning under the table for a host whose branch is past its end of support. */
export function eolWarning(name: string, r: AlpineRelease): string {
  return `${esc(name)}: Alpine ${esc(r.branch ?? '?')}${r.version ? ` (${esc(r.version)})` : ''} is past its end of support since ${r.eol}: it gets no more security fixes, and apk upgrade never moves to a newer branch`;
}

export function renderList(r: { enabled: boolean; maxConcurrent: number; hosts: HostUpdates[] }): string {
  if (r.hosts.length === 0) return 'No hosts.\n';
  const rows = r.hosts.map((u) => [
    esc(u.name),
    u.enabled ? 'on' : 'off',
    esc(u.window ?? 'any time'),
    `${u.intervalHours}h`,
    branchText(u.release),
    u.pending === null ? '?' : String(u.pending),
    u.running ?? (u.enabled ? until(u.nextDue) : '-'),
    esc(u.waiting ?? ''),
    lastText(u),
  ]);
  let out = table(['HOST', 'AUTO', 'WINDOW', 'EVERY', 'BRANCH', 'PENDING', 'NEXT', 'WAITING', 'LAST'], rows);
  const pkgs = r.hosts.filter((u) => u.pendingPackages.length);
  for (const u of pkgs) out += `\n${esc(u.name)}: ${upgradesText(u.pendingPackages)}`;
  if (pkgs.length) out += '\n';
  const eol = r.hosts.filter((u) => u.release?.status === 'eol');
  for (const u of eol) out += `\n${eolWarning(u.name, u.release!)}`;
  if (eol.length) out += '\n';
  out += `\nautomatic updates ${r.enabled ? 'on' : 'off'}; at most ${r.maxConcurrent} host${r.maxConcurrent === 1 ? '' : 's'} at a time\n`;
  return out;
}

export function renderResults(results: UpdateResult[]): string {
  return table(
    ['HOST', 'RESULT', 'UPGRADED', 'PENDING', 'REASON'],
    results.map((r) => [esc(r.name), r.result, upgradesText(r.upgraded) || '-', r.pending === null ? '?' : String(r.pending), esc(r.reason ?? '')]),
  );
}

/** 4 when a host failed or could not be reached, 1 when one was skipped (an app was running), else 0. */
export function resultsExitCode(results: UpdateResult[]): number {
  if (results.some((r) => r.result === 'failed' || r.unreachable)) return ExitCode.RemoteFailure;
  if (results.some((r) => r.result === 'skipped')) return ExitCode.Failure;
  return ExitCode.Ok;
}

export function register(program: Command): void {
  program
    .command('updates')
    .description('Show automatic security updates per host, or run or check them now.')
    .argument('[hosts...]', 'only these hosts (default: every host)')
    .option('--run', 'update now: refresh the index, count, then apk upgrade (waits until every host is done)')
    .option('--check', 'refresh the index and count pending upgrades now, without upgrading')
    .option('--force', 'with --run: upgrade even while an app runs on the host')
    .option('--json', 'print the protocol objects as JSON')
    .addHelpText(
      'after',
      `
towerd keeps every host up to date by itself. For each host, once per interval (towerd.json
packages.updates.intervalHours, default 24) and inside its window (packages.updates.window, e.g.
"03:00-05:00" local time; default any time), it refreshes the host's package index and counts what apk would
upgrade (apk upgrade --update-cache --simulate), then runs apk upgrade, the same way as towerctl upgrade:
offline hosts through the package relay and the router. It only does so while the host has been connected
for packages.updates.settleMs (default 2 minutes), never while an app runs on that host (checked again right
before apk upgrade starts), and on at most packages.updates.maxConcurrent hosts at a time (default 2). After a
failure it tries again after packages.updates.retry.initialMs (15 minutes), doubling up to capMs (6 hours).
packages.updates.hosts.NAME overrides enabled, intervalHours and window for one host. Alpine's stable
branches only receive security and severe bug fixes, so every upgrade apk offers there is applied.

Without --run or --check this lists, per host: AUTO (automatic updates on or off), WINDOW, EVERY (the
interval), PENDING (upgrades apk offered at the last check; ? before the first), NEXT (when the next automatic
run may start, or what runs now: queued, checking, upgrading), WAITING (why a due host is not being updated:
not connected, apps running, settling, queued), LAST (the last run or check: ok, failed or skipped, when, how
many packages were upgraded, why), and BRANCH: the Alpine branch the host follows (its apk repositories, else
/etc/alpine-release) with its end of support: "v3.22 to 2027-05-01", "v3.19 EOL 2025-11-01" once past it
(a warning under the table says so: no more security fixes, and apk upgrade never crosses to a newer
branch), "edge", or "unknown" for a branch towerd has no date for; "?" before the host was read (on each
connection and after each run or check). Pending packages follow the table.

State is kept in ~/.local/tower/hosts/NAME/updates.json, so a restart of towerd does not run a host again
that just ran. towerctl status shows the pending count and a failed or skipped last run; the bar shows ↑N
next to a host with pending upgrades, in the warning colour with a ! after a failed run, and "EOL v3.19" in
the warning colour for a host past its branch's end of support.

Exit status with --run or --check: 0 every host done, 1 a host was skipped because an app runs on it (use
--force), 4 a host failed or could not be reached; otherwise as for every command.

Examples:
  $ towerctl updates
  HOST    AUTO  WINDOW       EVERY  BRANCH                PENDING  NEXT       WAITING                  LAST
  router  on    03:00-05:00  24h    v3.22 to 2027-05-01   0        in 17h02m                           ok 6h58m ago (1 upgraded)
  office  on    03:00-05:00  24h    v3.19 EOL 2025-11-01  1        now        1 app running on office  skipped 2m ago: 1 app …

  office: Alpine v3.19 (3.19.1) is past its end of support since 2025-11-01: it gets no more security fixes, and apk upgrade never moves to a newer branch
  $ towerctl updates office --check
  $ towerctl updates --run
  $ towerctl updates office --run --force --json`,
    )
    .action(async (hosts: string[], opts: { run?: boolean; check?: boolean; force?: boolean; json?: boolean }, cmd: Command) => {
      if (opts.run && opts.check) throw new UsageError('give --run or --check, not both');
      if (opts.force && !opts.run) throw new UsageError('--force goes with --run');
      const params = hosts.length ? { hosts } : {};
      if (opts.run || opts.check) {
        const { results } = await withClient(cmd, (c) => (opts.run ? c.call('updates.run', { ...params, force: Boolean(opts.force) }) : c.call('updates.check', params)));
        print(opts.json ? json(results) : renderResults(results));
        process.exitCode = resultsExitCode(results);
        return;
      }
      const r = await withClient(cmd, (c) => c.call('updates.list', params));
      print(opts.json ? json(r) : renderList(r));
    });
}
