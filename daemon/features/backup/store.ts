import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as z from 'zod/mini';
import { BackupRun, VerifyRun } from '../../../protocol/backup.js';
import { exists, readIfExists, writeFileAtomic } from '../../core/util/fs.js';

// On the thin client: ~/.local/tower/hosts/HOST/backup.json (state of the host's sets) and
// ~/.local/tower/hosts/HOST/backup-SET.key (the repository's password, 0600), beside the host's other keys, so that
// `towerctl backup export` carries it with them.

const Iso = z.nullable(z.iso.datetime());
export const SetState = z.object({
  lastOkAt: Iso,
  firstOkAt: Iso,
  failedAt: Iso,
  failures: z.int().check(z.gte(0), z.lte(100_000)),
  last: z.nullable(BackupRun),
  snapshots: z.nullable(z.int().check(z.gte(0))),
  lastVerify: z.nullable(VerifyRun),
  verifyFailures: z.int().check(z.gte(0), z.lte(100_000)),
});
export type SetState = z.infer<typeof SetState>;

export const BackupFile = z.object({
  version: z.literal(1),
  sets: z.record(z.string().check(z.regex(/^[a-z0-9][a-z0-9_-]{0,31}$/)), SetState),
});
export type BackupFile = z.infer<typeof BackupFile>;

export const emptyState = (): SetState => ({ lastOkAt: null, firstOkAt: null, failedAt: null, failures: 0, last: null, snapshots: null, lastVerify: null, verifyFailures: 0 });

export interface BackupStore {
  load(host: string): Promise<string | undefined>;
  save(host: string, text: string): Promise<void>;
  /** the set's repository password; made (32 random bytes, base64) when `create` and there is none */
  key(host: string, set: string, create: boolean): Promise<string | undefined>;
}

const KEY = /^[A-Za-z0-9+/]{43}=$/;

export function fileStore(hostsDir: string): BackupStore {
  return {
    load: (host) => readIfExists(join(hostsDir, host, 'backup.json')),
    // the host's folder is never created here: a host removed while it was backed up must not come back
    save: async (host, text) => {
      if (await exists(join(hostsDir, host))) await writeFileAtomic(join(hostsDir, host, 'backup.json'), text, 0o600);
    },
    key: async (host, set, create) => {
      const file = join(hostsDir, host, `backup-${set}.key`);
      const text = await readIfExists(file);
      if (text !== undefined) {
        const k = text.trim();
        if (!KEY.test(k)) throw new Error(`${file} is not a Tower backup key (44 characters of base64)`);
        return k;
      }
      if (!create) return undefined;
      if (!(await exists(join(hostsDir, host)))) throw new Error(`no folder for ${host} in ${hostsDir}`);
      const k = randomBytes(32).toString('base64');
      await writeFileAtomic(file, k + '\n', 0o600);
      return k;
    },
  };
}
