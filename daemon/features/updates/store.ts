import { join } from 'node:path';
import * as z from 'zod/mini';
import { PackageUpgrade, UpdateRun } from '../../../protocol/updates.js';
import { readIfExists, writeFileAtomic } from '../../core/util/fs.js';

// State on disk: ~/.local/tower/hosts/NAME/updates.json

const Iso = z.nullable(z.iso.datetime());
export const UpdatesFile = z.object({
  version: z.literal(1),
  last: z.nullable(UpdateRun),
  lastOkAt: Iso,
  failedAt: Iso,
  checkedAt: Iso,
  pending: z.nullable(z.int().check(z.gte(0))),
  pendingPackages: z.array(PackageUpgrade).check(z.maxLength(10_000)),
  failures: z.int().check(z.gte(0), z.lte(1000)),
  nextDue: Iso,
});
export type UpdatesFile = z.infer<typeof UpdatesFile>;

export interface UpdateStore {
  /** the file's content, undefined when there is none */
  load(name: string): Promise<string | undefined>;
  save(name: string, text: string): Promise<void>;
}

export function fileStore(hostsDir: string): UpdateStore {
  return {
    load: (name) => readIfExists(join(hostsDir, name, 'updates.json')),
    // the host's folder is never created here: a host removed while it was updating must not come back
    save: (name, text) => writeFileAtomic(join(hostsDir, name, 'updates.json'), text, 0o600),
  };
}
