import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod/mini';
import { PublicKeyLine, RotationStep } from '../../../protocol/keys.js';
import { isErrno, readIfExists, writeFileAtomic } from '../../core/util/fs.js';

/*
 * A key rotation, step by step. Files (in ~/.local/tower/hosts/NAME/):
 *   rotate-key.json        the journal: the last step done, both public keys (0600)
 *   id_ed25519.new(.pub)   the new key pair, staged until the rotation ends (0600, .pub 0644)
 *   id_ed25519(.pub)       the key towerd connects with (read afresh at every connect)
 *
 * Each step is journaled after it is done. Which keys the host's authorized_keys holds, which key the identity file
 * here is, and what the next towerd does when it finds the journal (once the host is connected):
 *
 *   journal      host's authorized_keys   identity here   recovery
 *   (none)       old                      old             a stray id_ed25519.new is deleted (nothing is sent to
 *                                                         the host before the journal says staged)
 *   staged       old (+ new if the crash  old             roll back: remove new there (if present), keep old
 *                came while adding)
 *   added        old + new                old             roll back: the new key was never proven
 *   proven       old + new                old or new      finish: put new in place here, then remove old there
 *                                         (mid-rename)
 *   installed    old + new (or new only,  new             finish: remove old there
 *                crash while removing)
 *   removed      new                      new             finish: delete the staged files and the journal
 *
 * At every row the identity file holds a key the host accepts, so the supervised connection (and a restarted
 * towerd) always gets in: the old key is removed from the host only after the new one is the identity here. Every
 * host-side change is one rewrite of authorized_keys through a temporary file and mv, which also makes sure the key
 * being kept is there; so each recovery action can be repeated after a crash of its own.
 */

export const JOURNAL_FILE = 'rotate-key.json';
export const NEW_KEY_FILE = 'id_ed25519.new';

export const Journal = z.object({
  version: z.literal(1),
  step: RotationStep,
  startedAt: z.iso.datetime(),
  oldPublicKey: PublicKeyLine,
  newPublicKey: PublicKeyLine,
});
export type Journal = z.infer<typeof Journal>;

export type Recovery = 'rollback' | 'finish';

/** What towerd does with a rotation it finds interrupted at `step` (see the table above). */
export function recoveryFor(step: Journal['step']): Recovery {
  switch (step) {
    case 'staged':
    case 'added':
      return 'rollback';
    case 'proven':
    case 'installed':
    case 'removed':
      return 'finish';
  }
}

/** The steps the finishing of a rotation at `step` still has to do, in order. */
export function finishingSteps(step: Journal['step']): ('install' | 'remove-old' | 'clean')[] {
  switch (step) {
    case 'proven':
      return ['install', 'remove-old', 'clean'];
    case 'installed':
      return ['remove-old', 'clean'];
    case 'removed':
      return ['clean'];
    default:
      throw new Error(`a rotation at step ${step} is rolled back, not finished`);
  }
}

export class JournalError extends Error {}

/** The journal of a host's folder, undefined when there is none; a file that does not parse is a JournalError. */
export async function readJournal(dir: string): Promise<Journal | undefined> {
  const text = await readIfExists(join(dir, JOURNAL_FILE));
  if (text === undefined) return undefined;
  if (text.length > 8192) throw new JournalError(`${join(dir, JOURNAL_FILE)} is larger than a journal can be`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new JournalError(`${join(dir, JOURNAL_FILE)} is not JSON`);
  }
  const r = Journal.safeParse(data);
  if (!r.success) throw new JournalError(`${join(dir, JOURNAL_FILE)} is not a key-rotation journal: ${r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

export function writeJournal(dir: string, j: Journal): Promise<void> {
  return writeFileAtomic(join(dir, JOURNAL_FILE), `${JSON.stringify(j, null, 2)}\n`, 0o600);
}

export async function removeQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
}
