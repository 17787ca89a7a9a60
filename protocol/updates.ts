import * as z from 'zod/mini';
import { AlpineRelease, HostName, UpdateOutcome } from './host.js';
import { PackageName } from './packages.js';

/** apk versions as they appear in apk's output (`1.2.3_rc1-r0`), bounded. */
export const ApkVersion = z.string().check(z.regex(/^[0-9A-Za-z][0-9A-Za-z._+~-]{0,63}$/, 'an apk version'));

export const PackageUpgrade = z.object({ name: PackageName, from: ApkVersion, to: ApkVersion });
export type PackageUpgrade = z.infer<typeof PackageUpgrade>;

export const UpdateKind = z.enum(['run', 'check']);
export type UpdateKind = z.infer<typeof UpdateKind>;

/** One finished run (or check) on one host. */
export const UpdateRun = z.object({
  at: z.iso.datetime().check(z.describe('when it ended')),
  kind: UpdateKind.check(z.describe('run: refresh, count and upgrade; check: refresh and count only')),
  trigger: z.enum(['schedule', 'manual']),
  result: UpdateOutcome,
  reason: z.nullable(z.string()),
  upgraded: z.array(PackageUpgrade).check(z.maxLength(10_000)),
  pending: z.nullable(z.int()).check(z.describe('upgrades still offered afterwards; null when unknown')),
  durationMs: z.number(),
});
export type UpdateRun = z.infer<typeof UpdateRun>;

/** Everything towerd knows about one host's automatic security updates. */
export const HostUpdates = z.object({
  name: HostName,
  enabled: z.boolean(),
  window: z.nullable(z.string()).check(z.describe('daily local time range HH:MM-HH:MM; null: any time')),
  intervalHours: z.number(),
  last: z.nullable(UpdateRun),
  lastOkAt: z.nullable(z.iso.datetime()).check(z.describe('end of the last successful run: the interval counts from here')),
  checkedAt: z.nullable(z.iso.datetime()).check(z.describe('last time the index was refreshed and upgrades counted')),
  pending: z.nullable(z.int()),
  pendingPackages: z.array(PackageUpgrade).check(z.maxLength(10_000)),
  failures: z.int().check(z.describe('failed runs in a row; each one doubles the wait before the next try')),
  nextDue: z.nullable(z.iso.datetime()).check(z.describe('earliest start of the next automatic run; null when disabled')),
  running: z.nullable(z.enum(['queued', 'checking', 'upgrading'])),
  waiting: z.nullable(z.string()).check(z.describe('why a due host is not being updated now (not connected, apps running, …)')),
  release: z.optional(AlpineRelease.check(z.describe('the host’s Alpine branch and its end of support: apk upgrade never crosses a branch; absent before the host was read'))),
});
export type HostUpdates = z.infer<typeof HostUpdates>;

/** The outcome of one host in updates.run / updates.check. */
export const UpdateResult = z.object({
  name: HostName,
  result: UpdateOutcome,
  reason: z.nullable(z.string()),
  pending: z.nullable(z.int()),
  upgraded: z.array(PackageUpgrade),
  unreachable: z.boolean().check(z.describe('skipped because the host (or the router, for an offline host) is not connected')),
});
export type UpdateResult = z.infer<typeof UpdateResult>;

const Hosts = z.optional(z.array(HostName).check(z.maxLength(1000), z.describe('default: every host')));

export const updateMethods = {
  'updates.list': {
    description: 'Automatic security updates per host: enabled, window, interval, last run, pending upgrades, next due time, what runs now.',
    params: z.strictObject({ hosts: Hosts }),
    result: z.object({ enabled: z.boolean(), maxConcurrent: z.int(), hosts: z.array(HostUpdates) }),
  },
  'updates.run': {
    description:
      'Update hosts now (all when none are given): refresh the index, count upgrades, then `apk upgrade` (offline hosts through the package relay). ' +
      'At most maxConcurrent hosts at a time; a host with a running app is skipped unless force. Answers when every host is done.',
    params: z.strictObject({ hosts: Hosts, force: z._default(z.boolean(), false) }),
    result: z.object({ results: z.array(UpdateResult) }),
  },
  'updates.check': {
    description: 'Refresh the index and count pending upgrades on hosts now (all when none are given), without upgrading anything.',
    params: z.strictObject({ hosts: Hosts }),
    result: z.object({ results: z.array(UpdateResult) }),
  },
} as const;
