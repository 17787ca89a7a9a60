import type { Command } from 'commander';
import { ExitCode } from '../../protocol/errors.js';
import type { AuditCheck, HostAudit } from '../../protocol/audit.js';
import { print, withClient } from '../context.js';
import { escapeControls as esc, json, style, table } from '../render.js';

const statusText = (s: AuditCheck['status'] | HostAudit['posture']): string =>
  s === 'open' ? style(['red', 'bold'], 'OPEN') : s === 'warn' || s === 'unknown' ? style('yellow', s) : s;

/** One row per check, host by host; then one line per host with its posture. Host text is escaped. */
export function renderAudit(results: readonly HostAudit[]): string {
  if (results.length === 0) return 'No hosts.\n';
  const rows: string[][] = [];
  for (const a of results) {
    if (a.error) rows.push([esc(a.name), 'audit', '-', 'runs', esc(a.error), statusText('unknown')]);
    for (const c of a.checks) rows.push([esc(a.name), esc(c.check), esc(c.target ?? '-'), esc(c.expect), esc(c.seen), statusText(c.status)]);
  }
  let out = table(['HOST', 'CHECK', 'TARGET', 'EXPECT', 'SEEN', 'RESULT'], rows);
  out += '\n';
  for (const a of results) {
    const open = a.checks.filter((c) => c.status === 'open').length;
    const unknown = a.checks.filter((c) => c.status === 'unknown').length;
    const detail = open ? `${open} open` : unknown ? `${unknown} unknown` : a.error ? 'not audited' : `${a.checks.length} check${a.checks.length === 1 ? '' : 's'}`;
    out += `${esc(a.name)}: ${statusText(a.posture)} (${detail}, ${(a.durationMs / 1000).toFixed(1)}s)\n`;
  }
  return out;
}

/** 0 when every host's posture is ok; 4 when one is open or could not be audited. */
export function auditExitCode(results: readonly HostAudit[]): number {
  return results.every((a) => a.posture === 'ok') ? ExitCode.Ok : ExitCode.RemoteFailure;
}

export function register(program: Command): void {
  program
    .command('audit')
    .description('Check each host’s security posture by what its network lets through, its sshd and its boot media.')
    .argument('[hosts...]', 'only these hosts (default: every host)')
    .option('--json', 'print the protocol objects (HostAudit) as JSON')
    .addHelpText(
      'after',
      `
From each host, towerd sends one empty UDP datagram and opens one TCP connection (bounded by
audit.connectTimeoutMs, default 1.5 s) to: the thin client on the host's own network and on the other one,
one other registered host of each network, the router, and the relay's allow-listed repository host (at the
address the router resolves it to). An offline host must get nothing out to any of them; an online host
nothing to the thin client or other hosts of its network and no answer from the offline network, and should
reach the internet through the router; the router must get no answer from hosts or the offline network. A
refused connection counts as reached: something answered. It also checks sshd's effective settings (sshd -T
under packages.privilege: no passwords, no keyboard-interactive, no root login, no empty passwords) and that
tower.env and crypto_keyfile.bin are not left on a mounted boot partition (audit.bootMounts) or at /.

RESULT: ok, OPEN (exposed: posture open), warn (not as TowerOS sets it up, nothing exposed), unknown.
towerd also audits each host after it connects (audit.auto, at most once per audit.intervalMs); towerctl
status shows the last posture and the bar marks an open host with ⚑ open.

Exit status: 0 every host ok, 4 a host is open or could not be audited; otherwise as for every command.

Examples:
  $ towerctl audit
  $ towerctl audit off1 --json`,
    )
    .action(async (hosts: string[], opts: { json?: boolean }, cmd: Command) => {
      const { results } = await withClient(cmd, (c) => c.call('audit.run', hosts.length ? { hosts } : {}));
      print(opts.json ? json(results) : renderAudit(results));
      process.exitCode = auditExitCode(results);
    });
}
