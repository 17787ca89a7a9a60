// apk world files as Tower reads and restores them. Imports nothing of the protocol: host.ts (a reinstalled
// host's restore) and packages.ts (packages.world) both use it.
import * as z from 'zod/mini';

/**
 * One line of apk's world file as Tower restores it: a package name, optionally `@tag` (a tagged repository) and a
 * version constraint (`=1.2-r0`, `>1`, `<=2`, `~1.2`, `><1`). Conflicts (`!name`) and anything else are refused.
 */
export const WORLD_ENTRY_RE = /^([a-z0-9][a-z0-9+._-]{0,99})(?:@([a-z0-9][a-z0-9._-]{0,31}))?(?:(=|<|>|<=|>=|~|~=|><)([0-9A-Za-z][0-9A-Za-z._+~-]{0,63}))?$/;
export const WorldEntry = z
  .string()
  .check(z.regex(WORLD_ENTRY_RE, 'an apk world entry: a package name, optionally @tag and a version constraint such as =1.2-r0 or >1'));

/** What a saved world asks of a host, against the host's own /etc/apk/world (entries as written there). */
export const WorldDiff = z.object({
  host: z.string().check(z.maxLength(64)),
  source: z.string().check(z.maxLength(4200)),
  wanted: z.array(WorldEntry).check(z.maxLength(5000)),
  /** in the saved world and not (or not with that constraint) on the host: what `apk add` installs */
  missing: z.array(WorldEntry).check(z.maxLength(5000)),
  present: z.array(WorldEntry).check(z.maxLength(5000)),
  /** on the host and not in the saved world (by name): left alone unless asked */
  extra: z.array(WorldEntry).check(z.maxLength(5000)),
});
export type WorldDiff = z.infer<typeof WorldDiff>;

/** A saved world restored by towerd itself (after a reinstall): the difference and apk's outcome. */
export const WorldRestore = z.object({
  ...WorldDiff.shape,
  relayed: z.boolean(),
  /** apk's exit status; null when it did not run to the end (or had nothing to do: see missing) */
  code: z.nullable(z.int()),
  error: z.nullable(z.string().check(z.maxLength(2000))),
});
export type WorldRestore = z.infer<typeof WorldRestore>;

