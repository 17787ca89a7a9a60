import * as z from 'zod/mini';
import { HostName } from './host.js';
import { PtyRequest } from './pty.js';

/** apk package names as TowerOS accepted them, bounded; a leading letter or digit keeps them from being read as options. */
export const PackageName = z.string().check(z.regex(/^[a-z0-9][a-z0-9+._-]{0,99}$/, 'an apk package name: lowercase letters, digits and + . _ -'));

export { WORLD_ENTRY_RE, WorldEntry, WorldDiff, WorldRestore } from './world.js';
import { WorldDiff, WorldEntry } from './world.js';

export const PackageAction = z.enum(['add', 'del', 'upgrade']);
export type PackageAction = z.infer<typeof PackageAction>;

export const RelayAuditRecord = z.object({
  time: z.number(),
  host: HostName,
  kind: z.enum(['fetch', 'tunnel', 'refused', 'failed']),
  method: z.string(),
  target: z.string(),
  status: z.optional(z.int()),
  /** received from the upstream (a body's payload; for a tunnel, everything towards the host) */
  bytes: z.number(),
  /** sent upstream (the request head as passed on; for a tunnel, everything the host sent into it) */
  sent: z.number(),
  reason: z.optional(z.string()),
});
export type RelayAuditRecord = z.infer<typeof RelayAuditRecord>;

export const packageMethods = {
  'packages.run': {
    description:
      'apk add|del|upgrade on a host. Offline hosts go through the package relay (an allow-listed HTTP proxy reached over their own SSH connection, ' +
      'opening upstream connections through the router); online hosts and the router go out directly. Like exec.run, the connection then carries ' +
      "apk's output as binary frames until the exit frame; afterwards the host's world file is saved to ~/.local/tower/hosts/NAME/world.",
    params: z
      .strictObject({
        host: HostName,
        action: PackageAction,
        packages: z.array(WorldEntry).check(z.maxLength(5000)),
        pty: z.optional(PtyRequest),
      })
      .check(
        z.refine((p) => p.action === 'upgrade' || p.packages.length > 0, 'add and del need at least one package'),
        z.refine((p) => p.action === 'add' || p.packages.every((x) => PackageName.safeParse(x).success), 'only add takes @tags and version constraints'),
      ),
    result: z.object({ id: z.string(), relayed: z.boolean() }),
  },
  'packages.world': {
    description:
      "Compare a saved world (the host's ~/.local/tower/hosts/NAME/world, or `text` given in the same format) with the host's /etc/apk/world, " +
      'changing nothing. `missing` is what `packages.run` add installs to restore it; `extra` is on the host and not in the saved world. ' +
      'Lines that are not apk world entries are refused with their line number.',
    params: z.strictObject({
      host: HostName,
      text: z.optional(z.string().check(z.maxLength(256 * 1024))),
      /** what `text` is, for messages (the file it came from) */
      from: z.optional(z.string().check(z.maxLength(4096))),
    }),
    result: WorldDiff,
  },
  'relay.trail': {
    description: 'What the package relay fetched for each host and what it refused (most recent first), with counts.',
    params: z.strictObject({ host: z.optional(HostName), limit: z._default(z.int().check(z.gte(1), z.lte(1000)), 50) }),
    result: z.object({
      hosts: z.array(
        z.object({ name: HostName, fetches: z.int(), bytes: z.number(), sent: z.number(), refusals: z.int(), failures: z.int(), recent: z.array(RelayAuditRecord) }),
      ),
    }),
  },
} as const;
