import type { Command } from 'commander';
import type { Status } from '../../protocol/index.js';
import { print, withClient } from '../context.js';
import { ago, formatDuration, hostColor, json, stateText, style, table } from '../render.js';

export function renderStatus(s: Status): string {
  const rows = s.hosts.map((h) => [
    hostColor(h),
    h.role,
    h.ip,
    stateText(h.state),
    h.rttMs === null || h.state !== 'online' ? '-' : `${h.rttMs.toFixed(1)}ms`,
    ago(h.lastContact),
    h.lastError ?? '',
  ]);
  let out = s.hosts.length
    ? table(['HOST', 'ROLE', 'ADDRESS', 'STATE', 'RTT', 'LAST CONTACT', 'LAST ERROR'], rows)
    : 'No hosts. Add one with: towerctl host add NAME --online|--offline|--router\n';
  out += `\n${s.summary.total} host${s.summary.total === 1 ? '' : 's'}: ${s.summary.online} online, ${s.summary.down} down`;
  out += ` · towerd ${s.daemon.version} (pid ${s.daemon.pid}, up ${formatDuration(s.daemon.uptimeMs)})\n`;
  if (!s.registry.ok) out += style(['yellow', 'bold'], `registry: the last edit on disk is invalid and was not applied: ${s.registry.error ?? ''}`) + '\n';
  return out;
}

export function register(program: Command): void {
  program
    .command('status')
    .description('Show every host with its role, address and connection state.')
    .option('--json', 'print the status object as JSON (the same object the bar and the API use)')
    .addHelpText(
      'after',
      `
Columns: HOST (in its colour), ROLE (router, online, offline), ADDRESS, STATE (online, connecting, offline,
auth-failed, hostkey-mismatch, provisioning, unsupervised), RTT (last keepalive round trip), LAST CONTACT,
LAST ERROR. A warning line follows when an edit of ~/.local/tower on disk is invalid.

Example:
  $ towerctl status
  HOST    ROLE     ADDRESS        STATE   RTT    LAST CONTACT  LAST ERROR
  router  router   192.168.2.1    online  0.4ms  1s ago
  work    offline  192.168.3.200  online  0.6ms  1s ago`,
    )
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const s = await withClient(cmd, (c) => c.call('status'));
      print(opts.json ? json(s) : renderStatus(s));
    });
}
