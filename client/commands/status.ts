import type { Command } from 'commander';
import type { BackupSummary, Status, UpdateSummary } from '../../protocol/index.js';
import { print, withClient } from '../context.js';
import { ago, escapeControls, formatDuration, hostColor, json, stateText, style, table } from '../render.js';

/** The UPDATES column: pending upgrades, then how the last automatic run went when it did not go well. */
export function updatesText(u: UpdateSummary | undefined): string {
  if (!u) return '-';
  if (u.running) return 'running';
  const pending = u.pending === null ? '?' : u.pending > 0 ? `↑${u.pending}` : 'current';
  return u.last === 'failed' || u.last === 'skipped' ? `${pending}, ${u.last}` : pending;
}

/** The BACKUP column: how old the newest backup is (the oldest over the host's sets), stale in the warning colour. */
export function backupText(b: BackupSummary | undefined): string {
  if (!b) return '-';
  const age = b.lastOkAt === null ? 'none' : ago(b.lastOkAt);
  const text = b.running ? `${age}, running` : age;
  return b.stale ? style(['yellow', 'bold'], `${text}, stale`) : text;
}

export function renderStatus(s: Status): string {
  const rows = s.hosts.map((h) => [
    hostColor(h),
    h.role,
    escapeControls(h.ip),
    stateText(h.state),
    h.rttMs === null || h.state !== 'online' ? '-' : `${h.rttMs.toFixed(1)}ms`,
    ago(h.lastContact),
    updatesText(h.updates),
    backupText(h.backup),
    h.sound ?? '-',
    h.clipboard ?? '-',
    h.posture === 'open' ? style(['yellow', 'bold'], 'open') : (h.posture ?? '-'),
    escapeControls(h.lastError ?? ''),
  ]);
  let out = s.hosts.length
    ? table(['HOST', 'ROLE', 'ADDRESS', 'STATE', 'RTT', 'LAST CONTACT', 'UPDATES', 'BACKUP', 'SOUND', 'CLIPBOARD', 'POSTURE', 'LAST ERROR'], rows)
    : 'No hosts. Add one with: towerctl host add NAME --online|--offline|--router\n';
  out += `\n${s.summary.total} host${s.summary.total === 1 ? '' : 's'}: ${s.summary.online} online, ${s.summary.down} down`;
  out += ` · towerd ${escapeControls(s.daemon.version)} (pid ${s.daemon.pid}, up ${formatDuration(s.daemon.uptimeMs)})\n`;
  if (!s.registry.ok) out += style(['yellow', 'bold'], `registry: the last edit on disk is invalid and was not applied: ${escapeControls(s.registry.error ?? '')}`) + '\n';
  const e = s.stateExport;
  if (e?.warn) {
    const what = e.state === 'none' ? 'never exported' : `the registry changed after the last export (${ago(e.lastExportAt)})`;
    out += style(['yellow', 'bold'], `thin client state: ${what}; run towerctl backup export FILE`) + '\n';
  } else if (e?.state === 'current') out += `thin client state: exported ${ago(e.lastExportAt)}\n`;
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
UPDATES (automatic security updates: ↑N upgrades pending, "current", "?" before the first check, then
", failed" or ", skipped" when the last run did not upgrade; "-" when off; details: towerctl updates), BACKUP (how long ago the newest
backup of the host's sets succeeded, "none" before the first, ", stale" in the warning colour when it is
older than the set's maxAgeHours; "-" when the host has no backup set; details: towerctl backup), SOUND
(on, off, down: on but its PulseAudio forward or the thin client's PulseAudio is not working), CLIPBOARD (off,
explicit, auto; see towerctl clip), POSTURE (the last towerctl audit: ok, open, unknown; - before the
first), LAST ERROR.
A warning line follows when an edit of ~/.local/tower on disk is invalid, and a footer says when the thin
client's own state was last exported (a warning when the registry changed since: towerctl backup export).

Example:
  $ towerctl status
  HOST    ROLE     ADDRESS        STATE   RTT    LAST CONTACT  UPDATES  LAST ERROR
  router  router   192.168.2.1    online  0.4ms  1s ago        current
  work    offline  192.168.3.200  online  0.6ms  1s ago        ↑3`,
    )
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const s = await withClient(cmd, (c) => c.call('status'));
      print(opts.json ? json(s) : renderStatus(s));
    });
}
