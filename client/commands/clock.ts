import type { Command } from 'commander';
import type { HostClock, HostInfo } from '../../protocol/index.js';
import { ExitCode } from '../../protocol/errors.js';
import { print, withClient } from '../context.js';
import { ago, escapeControls as esc, json, table } from '../render.js';

/** "+0.004 s ± 0.001 s", "-" before the first measurement */
export function offsetText(c: HostClock | undefined): string {
  if (!c || c.offsetMs === null || c.boundMs === null) return '-';
  return `${c.offsetMs >= 0 ? '+' : ''}${(c.offsetMs / 1000).toFixed(3)} s ± ${(c.boundMs / 1000).toFixed(3)} s`;
}

const seconds = (ms: number | null) => (ms === null ? '?' : `${ms >= 0 ? '+' : ''}${(ms / 1000).toFixed(3)} s`);

/** "set 2m ago: +30.012 s → +0.004 s", "never set" */
export function lastSetText(c: HostClock | undefined): string {
  const l = c?.lastSet;
  if (!l) return 'never set';
  return `set ${ago(l.at)}: ${seconds(l.beforeMs)} → ${seconds(l.afterMs)}${l.error ? ` (failed: ${esc(l.error)})` : ''}`;
}

/** One line for `host show`: offset, when, time service, policy, last setting. */
export function clockLine(c: HostClock | undefined): string {
  if (!c) return '-';
  const when = c.measuredAt ? ` (measured ${ago(c.measuredAt)})` : '';
  const err = c.error ? `; last measurement failed: ${esc(c.error)}` : '';
  return `${offsetText(c)}${when}; time service ${esc(c.source ?? '?')}; ${c.policy === 'set' ? 'towerd sets it' : 'left alone'} (${esc(c.reason)}); ${lastSetText(c)}${err}`;
}

function render(hosts: { name: string; clock: HostClock | null }[]): string {
  if (hosts.length === 0) return 'No hosts.\n';
  return table(
    ['HOST', 'OFFSET', 'MEASURED', 'SOURCE', 'POLICY', 'LAST SET', 'ERROR'],
    hosts.map(({ name, clock: c }) => [
      esc(name),
      offsetText(c ?? undefined),
      c?.measuredAt ? ago(c.measuredAt) : '-',
      esc(c?.source ?? '?'),
      c ? `${c.policy} (${esc(c.reason)})` : '-',
      lastSetText(c ?? undefined),
      esc(c?.error ?? ''),
    ]),
  );
}

export function register(program: Command): void {
  program
    .command('clock')
    .description('Show each host’s clock against the thin client’s, or measure (and set where allowed) now.')
    .argument('[hosts...]', 'only these hosts (default: every host)')
    .option('--sync', 'measure now, and set the clocks whose policy is set and that are off by more than clock.maxOffsetMs')
    .option('--json', 'print the protocol objects as JSON')
    .addHelpText(
      'after',
      `
towerd measures every host's clock on each connection and every clock.everyMs (towerd.json, default 5
minutes): a few timed exchanges over the host's connection, corrected for the round trip, the tightest kept.
OFFSET is the host's clock minus the thin client's. It sets the clock (PRIVILEGE date -u -s @SECONDS, with
packages.privilege, default sudo) of an offline host that runs no time service, or of any host with
"clock": {"hosts": {"NAME": {"set": true}}}, when the offset exceeds clock.maxOffsetMs (default 1000), then
measures again; a host running chronyd or another NTP daemon, the router and online hosts are left alone
unless set is true ("set": false: never). Each setting is logged with the offset before and after.

Exit status: 4 when a host's clock could not be measured or set; otherwise as for every command.

Examples:
  $ towerctl clock
  HOST    OFFSET              MEASURED  SOURCE   POLICY                                            LAST SET                             ERROR
  router  +0.001 s ± 0.000 s  1m ago    chronyd  leave (the router: it has a time source of its own)  never set
  vault   +0.004 s ± 0.001 s  1m ago    none     set (an offline host without a time service)       set 3h ago: -31.240 s → +0.004 s
  $ towerctl clock vault --sync
  $ towerctl clock --json`,
    )
    .action(async (hosts: string[], opts: { sync?: boolean; json?: boolean }, cmd: Command) => {
      const params = hosts.length ? { hosts } : {};
      const list = await withClient(cmd, async (c) => {
        if (opts.sync) return (await c.call('clock.sync', params)).hosts;
        const all: HostInfo[] = (await c.call('host.list')).hosts;
        return all.filter((h) => !hosts.length || hosts.includes(h.name)).map((h) => ({ name: h.name, clock: h.clock ?? null }));
      });
      print(opts.json ? json(list) : render(list));
      if (opts.sync && list.some((h) => !h.clock || h.clock.error || h.clock.lastSet?.error)) process.exitCode = ExitCode.RemoteFailure;
    });
}
