import * as z from 'zod/mini';
import { HostInfo, HostName } from './host.js';

/** A backup set's name within its host (towerd.json `backup.sets[].name`). */
export const BackupSetName = z.string().check(z.regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, '1–32 of [a-z0-9_-], starting with a letter or digit'));
/** restic snapshot ids: the short (8) or full (64) hex form, or `latest`. */
export const SnapshotId = z.string().check(z.regex(/^([0-9a-f]{8,64}|latest)$/, 'a restic snapshot id (hex) or "latest"'));
const Iso = z.nullable(z.iso.datetime());
const Text = z.string().check(z.maxLength(2000));
const AbsPath = z.string().check(z.maxLength(4096), z.regex(/^\/[^\0]*$/, 'an absolute path'));

export const BackupOutcome = z.enum(['ok', 'failed', 'skipped']);
export type BackupOutcome = z.infer<typeof BackupOutcome>;

/** One finished backup run of one set. */
export const BackupRun = z.object({
  at: z.iso.datetime().check(z.describe('when it ended')),
  trigger: z.enum(['schedule', 'manual']),
  result: BackupOutcome,
  reason: z.nullable(Text),
  snapshotId: z.nullable(SnapshotId),
  dataAdded: z.nullable(z.number().check(z.gte(0), z.describe('bytes restic added to the repository (compressed, encrypted)'))),
  filesNew: z.nullable(z.int()),
  filesChanged: z.nullable(z.int()),
  bytesProcessed: z.nullable(z.number()),
  resticSeconds: z.optional(z.nullable(z.number().check(z.describe('restic backup’s own duration, without starting and counting')))),
  durationMs: z.number().check(z.describe('the whole run: preparing the folder and the pipe, restic init on the first run, backup, counting snapshots')),
});
export type BackupRun = z.infer<typeof BackupRun>;

export const VerifyRun = z.object({
  at: z.iso.datetime(),
  trigger: z.enum(['schedule', 'manual']),
  result: BackupOutcome,
  reason: z.nullable(Text),
  readDataPercent: z.int(),
  durationMs: z.number(),
});
export type VerifyRun = z.infer<typeof VerifyRun>;

export const BackupProgress = z.object({
  percent: z.number().check(z.gte(0), z.lte(1)),
  bytesDone: z.number(),
  totalBytes: z.number(),
  filesDone: z.int(),
  totalFiles: z.int(),
});
export type BackupProgress = z.infer<typeof BackupProgress>;

export const BackupActivity = z.enum(['queued', 'backup', 'verify', 'restore', 'snapshots']);

/** Everything towerd knows about one backup set. */
export const BackupSetInfo = z.object({
  host: HostName,
  set: BackupSetName,
  paths: z.array(Text).check(z.maxLength(64), z.describe('what is backed up; empty: the login user’s home')),
  excludes: z.array(Text).check(z.maxLength(256)),
  storage: z.object({ host: HostName, folder: Text }),
  everyHours: z.number(),
  maxAgeHours: z.number(),
  lastOkAt: Iso.check(z.describe('end of the last successful backup: the schedule and freshness count from here')),
  last: z.nullable(BackupRun),
  snapshots: z.nullable(z.int()).check(z.describe('snapshots in the repository after the last run; null before the first')),
  failures: z.int().check(z.describe('failed runs in a row; each one doubles the wait before the next try')),
  nextDue: Iso.check(z.describe('earliest start of the next automatic backup')),
  stale: z.boolean().check(z.describe('no successful backup within maxAgeHours (or none at all)')),
  lastVerify: z.nullable(VerifyRun),
  nextVerify: Iso,
  running: z.nullable(BackupActivity),
  progress: z.nullable(BackupProgress),
  waiting: z.nullable(Text).check(z.describe('why a due set is not being backed up now (a host not connected, …)')),
});
export type BackupSetInfo = z.infer<typeof BackupSetInfo>;

export const BackupResult = z.object({
  host: HostName,
  set: BackupSetName,
  result: BackupOutcome,
  reason: z.nullable(Text),
  snapshotId: z.nullable(SnapshotId),
  dataAdded: z.nullable(z.number()),
});
export type BackupResult = z.infer<typeof BackupResult>;

export const Snapshot = z.object({
  id: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
  shortId: z.string().check(z.regex(/^[0-9a-f]{8}$/)),
  time: z.string().check(z.maxLength(64)),
  hostname: z.string().check(z.maxLength(256)),
  paths: z.array(z.string().check(z.maxLength(4096))).check(z.maxLength(256)),
});
export type Snapshot = z.infer<typeof Snapshot>;

const Hosts = z.optional(z.array(HostName).check(z.maxLength(1000), z.describe('default: every host with a backup set')));

export const backupMethods = {
  'backup.list': {
    description: 'Backup sets per host: last success, age, size added, snapshot count, next run, freshness, what runs now.',
    params: z.strictObject({ hosts: Hosts }),
    result: z.object({ maxConcurrent: z.int(), sets: z.array(BackupSetInfo).check(z.maxLength(10_000)) }),
  },
  'backup.run': {
    description: 'Back up sets now (all sets of the given hosts, or every set): restic on the source host, its repository on the storage host through towerd. Answers when every set is done.',
    params: z.strictObject({ hosts: Hosts, set: z.optional(BackupSetName) }),
    result: z.object({ results: z.array(BackupResult) }),
  },
  'backup.verify': {
    description: '`restic check --read-data-subset=N%` of the sets’ repositories now (N: backup.verifyReadPercent).',
    params: z.strictObject({ hosts: Hosts, set: z.optional(BackupSetName) }),
    result: z.object({ results: z.array(BackupResult) }),
  },
  'backup.snapshots': {
    description: 'The snapshots in one set’s repository (restic snapshots), newest last.',
    params: z.strictObject({ host: HostName, set: z.optional(BackupSetName) }),
    result: z.object({ host: HostName, set: BackupSetName, snapshots: z.array(Snapshot).check(z.maxLength(100_000)) }),
  },
  'backup.restore': {
    description:
      'Restore a snapshot (default: the newest) onto its source host: into a new folder (default ~/TowerRestore/SNAPSHOT-DATE), which must not exist yet; over the live files only with inPlace.',
    params: z.strictObject({
      host: HostName,
      set: z.optional(BackupSetName),
      snapshot: z._default(SnapshotId, 'latest'),
      to: z.optional(z.string().check(z.maxLength(4096), z.regex(/^[^\0]+$/), z.describe('absolute, or relative to the login user’s home'))),
      paths: z._default(z.array(AbsPath).check(z.maxLength(64)), []),
      inPlace: z._default(z.boolean(), false),
    }),
    result: z.object({ host: HostName, set: BackupSetName, snapshot: SnapshotId, target: Text, result: BackupOutcome, reason: z.nullable(Text) }),
  },
} as const;

export const BackupEvents = [z.object({ type: z.literal('host.backup'), topic: z.literal('hosts'), host: HostInfo, set: BackupSetInfo })] as const;
