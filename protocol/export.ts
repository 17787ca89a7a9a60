// The thin client's own state (`towerctl backup export` / `import`): whether an export holds the registry as it is now.
import * as z from 'zod/mini';

export const ExportFreshness = z.enum(['current', 'stale', 'none', 'no-hosts']);
export type ExportFreshness = z.infer<typeof ExportFreshness>;

export const ExportState = z.object({
  state: ExportFreshness.check(
    z.describe(
      'current: the last export holds the registry, keys, Tower’s known_hosts lines and towerd.json as they are now; ' +
        'stale: one of them changed since; none: never exported; no-hosts: the registry has no host yet',
    ),
  ),
  warn: z.boolean().check(z.describe('true for stale and none: no export is newer than the registry’s last change')),
  lastExportAt: z.nullable(z.iso.datetime()),
  file: z.nullable(z.string().check(z.maxLength(4096))).check(z.describe('the last export file, as it was written')),
  registryChangedAt: z.nullable(z.iso.datetime()).check(z.describe('newest change of a file an export holds (state files aside)')),
  checkedAt: z.iso.datetime(),
});
export type ExportState = z.infer<typeof ExportState>;

export const exportMethods = {
  'export.state': {
    description:
      'Whether an export of the thin client’s state (towerctl backup export) is newer than the registry’s last change; ' +
      'looked at again now (towerctl calls it after an export or import), and published as `export.state` when it changed.',
    params: z.strictObject({}),
    result: ExportState,
  },
} as const;

export const ExportEvents = [z.object({ type: z.literal('export.state'), topic: z.literal('export'), export: ExportState })] as const;
