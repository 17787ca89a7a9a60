import type { Command } from 'commander';
import { ExitCode } from '../../protocol/errors.js';
import type { BackupResult, BackupSetInfo, Snapshot } from '../../protocol/backup.js';
import { UsageError, print, withClient } from '../context.js';
import { addExportCommands } from './backup-export.js';
import { ago, escapeControls as esc, formatDuration, json, style, table } from '../render.js';

/** 1.5 GiB, 12 MiB, 800 B */
export function bytesText(n: number | null): string {
  if (n === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function nextText(s: BackupSetInfo, now = Date.now()): string {
  if (s.running) return s.progress ? `${s.running} ${Math.round(s.progress.percent * 100)}%` : s.running;
  if (s.nextDue === null) return '-';
  const ms = Date.parse(s.nextDue) - now;
  return ms <= 1000 ? 'now' : `in ${formatDuration(ms)}`;
}

function lastText(s: BackupSetInfo): string {
  const l = s.last;
  if (!l) return 'never';
  return `${l.result} ${ago(l.at)}${l.reason ? `: ${esc(l.reason)}` : ''}`;
}

export function renderSets(sets: BackupSetInfo[], color?: boolean): string {
  if (sets.length === 0) return 'No backup sets (towerd.json backup.sets).\n';
  const rows = sets.map((s) => [
    esc(s.host),
    esc(s.set),
    esc(`${s.storage.host}:${s.storage.folder}`),
    s.lastOkAt ? ago(s.lastOkAt) : 'never',
    s.stale ? style('yellow', `stale (>${s.maxAgeHours}h)`, color) : 'fresh',
    bytesText(s.last?.result === 'ok' ? s.last.dataAdded : null),
    s.snapshots === null ? '?' : String(s.snapshots),
    nextText(s),
    esc(s.waiting ?? ''),
    lastText(s),
  ]);
  return table(['HOST', 'SET', 'STORAGE', 'LAST OK', 'AGE', 'ADDED', 'SNAPSHOTS', 'NEXT', 'WAITING', 'LAST'], rows, color);
}

export function renderResults(results: BackupResult[]): string {
  return table(
    ['HOST', 'SET', 'RESULT', 'SNAPSHOT', 'ADDED', 'REASON'],
    results.map((r) => [esc(r.host), esc(r.set), r.result, r.snapshotId ?? '-', bytesText(r.dataAdded), esc(r.reason ?? '')]),
  );
}

export function renderSnapshots(host: string, set: string, snaps: Snapshot[]): string {
  if (!snaps.length) return `${host}/${set}: no snapshots yet.\n`;
  return table(['ID', 'TIME', 'PATHS'], snaps.map((s) => [s.shortId, esc(s.time.slice(0, 19).replace('T', ' ')), esc(s.paths.join(' '))]));
}

/** 4 when a set failed or its hosts were not connected, else 0. */
export function resultsExitCode(results: BackupResult[]): number {
  return results.some((r) => r.result !== 'ok') ? ExitCode.RemoteFailure : ExitCode.Ok;
}

/** `towerctl backup restore HOST [SNAPSHOT]` */
function restoreCommand(backup: Command): void {
  backup
    .command('restore')
    .description('Restore a snapshot onto its host: into a new folder, never over live files unless --in-place.')
    .argument('<host>', 'the host whose backup is restored (it is restored there)')
    .argument('[snapshot]', 'snapshot id from `towerctl backup HOST --list` (default: the newest)')
    .option('--set <name>', 'the backup set, when the host has more than one')
    .option('--to <dir>', 'a new folder on the host (absolute, or relative to the home); default ~/TowerRestore/ID-DATE')
    .option('--path <path...>', 'restore only these paths (absolute, as in the snapshot)')
    .option('--in-place', 'restore over the files where they were (overwrites them)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
The files come out of the repository on the storage host and are decrypted by restic on HOST itself; the
folder must not exist yet (restic restore puts the snapshot's absolute paths below it). With --in-place the
snapshot is restored onto / and replaces the live files of the paths it holds.

Exit status: 0 restored, 4 restic failed or a host was not connected; otherwise as for every command.

Examples:
  $ towerctl backup restore office
  restored office/home snapshot 3f2a9c1e into /home/user/TowerRestore/3f2a9c1e-20260104-031502
  $ towerctl backup restore office 3f2a9c1e --path /home/user/notes.txt --to /home/user/old-notes`,
    )
    .action(async (host: string, snapshot: string | undefined, _opts: unknown, cmd: Command) => {
      // --json and --set after the subcommand are taken by `backup`'s options of the same name: read both levels
      const opts = cmd.optsWithGlobals<{ set?: string; to?: string; path?: string[]; inPlace?: boolean; json?: boolean }>();
      if (opts.inPlace && opts.to) throw new UsageError('give --to or --in-place, not both');
      for (const p of opts.path ?? []) if (!p.startsWith('/')) throw new UsageError(`--path ${p}: an absolute path, as in the snapshot (see towerctl backup ${host} --list)`);
      const r = await withClient(cmd, (c) =>
        c.call('backup.restore', {
          host,
          ...(opts.set ? { set: opts.set } : {}),
          ...(snapshot ? { snapshot } : {}),
          ...(opts.to ? { to: opts.to } : {}),
          paths: opts.path ?? [],
          inPlace: Boolean(opts.inPlace),
        }),
      );
      if (opts.json) print(json(r));
      else if (r.result === 'ok') print(`restored ${esc(r.host)}/${esc(r.set)} snapshot ${r.snapshot.slice(0, 8)} into ${esc(r.target)}\n`);
      if (r.result !== 'ok') {
        process.stderr.write(`towerctl: restore of ${r.host}/${r.set} failed: ${esc(r.reason ?? 'unknown')}\n`);
        process.exitCode = ExitCode.RemoteFailure;
      }
    });
}

/** `towerctl backup verify [HOST...]` */
function verifyCommand(backup: Command): void {
  backup
    .command('verify')
    .description('Check the sets’ repositories now, reading back a sample of the data (restic check --read-data-subset).')
    .argument('[hosts...]', 'only these hosts’ sets (default: every set)')
    .option('--set <name>', 'only the set of this name')
    .option('--json', 'print the results as JSON')
    .addHelpText(
      'after',
      `
towerd also verifies every set on its own, backup.verifyEveryHours after the last verification (default 168,
weekly), reading backup.verifyReadPercent of the data (default 5).

Exit status: 0 every repository is sound, 4 a check failed or a host was not connected.

Examples:
  $ towerctl backup verify
  $ towerctl backup verify office --json`,
    )
    .action(async (hosts: string[], _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ set?: string; json?: boolean }>();
      const { results } = await withClient(cmd, (c) => c.call('backup.verify', { ...(hosts.length ? { hosts } : {}), ...(opts.set ? { set: opts.set } : {}) }));
      print(opts.json ? json(results) : renderResults(results));
      process.exitCode = resultsExitCode(results);
    });
}

/**
 * The subcommands of `towerctl backup`, each added by one builder. `backup`'s own --json and --set are parsed
 * wherever they stand, so a subcommand reads its options with cmd.optsWithGlobals().
 */
export const BACKUP_SUBCOMMANDS: ((backup: Command) => void)[] = [restoreCommand, verifyCommand, addExportCommands];

export function register(program: Command): void {
  const backup = program
    .command('backup')
    .description('Show backup sets (last success, age, size added, snapshots, next run), or run them now.')
    .argument('[hosts...]', 'only these hosts’ sets (default: every set)')
    .option('--run', 'back up now (waits until every set is done)')
    .option('--list', 'list the snapshots in the host’s repository')
    .option('--set <name>', 'only the set of this name')
    .option('--json', 'print the protocol objects as JSON')
    .addHelpText(
      'after',
      `
Each backup set in towerd.json (backup.sets) names a host, what to back up there (paths; default its login
user's home), excludes, and a storage host and folder. restic runs on the host itself, so the data is
encrypted before it leaves; its repository is the folder on the storage host, which the host can reach only
through towerd. Every backup.sets[].everyHours (default 24) towerd runs a backup, when both hosts have been
connected for backup.settleMs, at most backup.maxConcurrent at a time, retrying after a failure with
exponential backoff. A set whose newest backup is older than maxAgeHours (default 48), or that has none, is
stale: towerctl status and the bar show it in the warning colour.

Columns: LAST OK (the last successful backup), AGE (fresh or stale), ADDED (what the last backup added to the
repository, after deduplication, compressed and encrypted), SNAPSHOTS, NEXT (next run, or what runs now with
its progress), WAITING (why a due set is not running), LAST (the last run's result).

Exit status with --run: 0 every set backed up, 4 a set failed or its hosts were not connected.

Examples:
  $ towerctl backup
  HOST    SET   STORAGE              LAST OK   AGE    ADDED   SNAPSHOTS  NEXT       WAITING  LAST
  office  home  vault:backups/office  3h2m ago  fresh  12 MiB  31         in 20h58m           ok 3h2m ago
  $ towerctl backup office --run
  $ towerctl backup office --list
  $ towerctl backup restore office
  $ towerctl backup verify`,
    )
    .action(async (hosts: string[], opts: { run?: boolean; list?: boolean; set?: string; json?: boolean }, cmd: Command) => {
      if (opts.run && opts.list) throw new UsageError('give --run or --list, not both');
      const params = { ...(hosts.length ? { hosts } : {}), ...(opts.set ? { set: opts.set } : {}) };
      if (opts.run) {
        const { results } = await withClient(cmd, (c) => c.call('backup.run', params));
        print(opts.json ? json(results) : renderResults(results));
        process.exitCode = resultsExitCode(results);
        return;
      }
      if (opts.list) {
        if (hosts.length !== 1) throw new UsageError('--list takes one host');
        const r = await withClient(cmd, (c) => c.call('backup.snapshots', { host: hosts[0]!, ...(opts.set ? { set: opts.set } : {}) }));
        print(opts.json ? json(r) : renderSnapshots(r.host, r.set, r.snapshots));
        return;
      }
      const r = await withClient(cmd, (c) => c.call('backup.list', hosts.length ? { hosts } : {}));
      const sets = opts.set ? r.sets.filter((s) => s.set === opts.set) : r.sets;
      print(opts.json ? json({ ...r, sets }) : renderSets(sets));
    });
  for (const add of BACKUP_SUBCOMMANDS) add(backup);
}
