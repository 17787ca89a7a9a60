import * as z from 'zod/mini';
import { HOST_NAME_RE } from './host.js';

const describe = z.describe;

/** A host name, or `thinclient` for the thin client itself. */
export const FilesEnd = z.string().check(z.regex(HOST_NAME_RE, 'a host name or thinclient'));

const TransferId = z.string().check(z.regex(/^[a-z0-9-]{8,64}$/, '8–64 of [a-z0-9-]'));
const PathArg = z.string().check(z.minLength(1), z.maxLength(4096), z.refine((p) => !p.includes('\0'), 'no NUL'));

/** Entries listed in a reply or a log record; the counts and totals always cover all of them. */
export const MAX_LISTED_ENTRIES = 1000;
export const MAX_LISTED_REFUSALS = 100;

export const FilesEntry = z.object({
  name: z.string().check(z.maxLength(4096), describe('path inside the transfer, relative: the source’s base name first')),
  type: z.enum(['file', 'directory']),
  size: z.number(),
  sha256: z.nullable(z.string().check(z.maxLength(64))).check(describe('of the file’s bytes as they went through towerd; null for a folder')),
});
export type FilesEntry = z.infer<typeof FilesEntry>;

export const FilesRefusal = z.object({
  name: z.string().check(z.maxLength(4200), describe('the entry’s name as the source sent it (control characters escaped)')),
  reason: z.string().check(z.maxLength(500)),
});
export type FilesRefusal = z.infer<typeof FilesRefusal>;

export const FilesAction = z.enum(['allow', 'ask', 'deny']);
export type FilesAction = z.infer<typeof FilesAction>;

export const FilesResult = z.enum(['done', 'refused', 'failed', 'declined']);
export type FilesResult = z.infer<typeof FilesResult>;

/** A transfer as towerd answers it and records it: names, sizes and hashes, never file contents. */
export const FilesTransfer = z.object({
  id: TransferId,
  time: z.iso.datetime(),
  from: FilesEnd,
  to: FilesEnd,
  sources: z.array(z.string().check(z.maxLength(4096))).check(z.maxLength(256)),
  dir: z.nullable(z.string().check(z.maxLength(4096))).check(describe('the target folder, as the target resolved it')),
  move: z.boolean(),
  action: FilesAction.check(describe('what the policy said')),
  state: z.enum(['staged', 'done', 'refused', 'failed', 'declined']).check(
    describe('staged: read into the target’s hidden folder, waiting for files.commit or files.discard'),
  ),
  reason: z.nullable(z.string().check(z.maxLength(2000))),
  entries: z.array(FilesEntry).check(z.maxLength(MAX_LISTED_ENTRIES)),
  entryCount: z.int(),
  bytes: z.number(),
  refusals: z.array(FilesRefusal).check(z.maxLength(MAX_LISTED_REFUSALS)),
  names: z.array(z.string().check(z.maxLength(4096))).check(z.maxLength(256), describe('the names the target gave the top-level entries (a suffix where one existed)')),
  removed: z.boolean().check(describe('move: the sources were removed after the target confirmed')),
});
export type FilesTransfer = z.infer<typeof FilesTransfer>;

export const FilesProgress = z.object({
  id: TransferId,
  bytes: z.number(),
  entries: z.int(),
  bytesPerSecond: z.nullable(z.number()),
  current: z.nullable(z.string().check(z.maxLength(4096))),
});
export type FilesProgress = z.infer<typeof FilesProgress>;

export const FilesEvents = [
  z.object({ type: z.literal('files.transfer'), topic: z.literal('files'), transfer: FilesTransfer }),
  z.object({ type: z.literal('files.progress'), topic: z.literal('files'), progress: FilesProgress }),
] as const;

export const filesMethods = {
  'files.copy': {
    description:
      'Copy files from one end (a host, or thinclient) to another: the source’s tar stream is read and checked entry by entry (regular files and folders only, ' +
      'relative names, within files.maxBytes and files.maxEntries) and a fresh stream is unpacked by the target into a hidden folder in the target folder ' +
      '(default ~/TowerIncoming/SOURCE), renamed into place only when all of it passed; an existing name gets a suffix ("name (1).ext"). ' +
      'The policy (files.policy) decides: allow commits at once; ask answers `staged` and waits for files.commit or files.discard ' +
      '(refused without interactive, unless yes and the rule lets --yes answer); deny refuses. `files.progress` events go to `files` subscribers.',
    params: z.strictObject({
      id: z.optional(TransferId.check(describe('chosen by the client to follow its files.progress events'))),
      from: FilesEnd,
      paths: z.array(PathArg).check(z.minLength(1), z.maxLength(256), describe('on the source: absolute, or relative to the login user’s home (thin client: the home of towerd’s user)')),
      to: FilesEnd,
      dir: z.optional(PathArg.check(describe('target folder, created if missing; relative to the home. Default: ~/TowerIncoming/SOURCE'))),
      move: z._default(z.boolean(), false).check(describe('remove the sources after the target confirmed the rename')),
      yes: z._default(z.boolean(), false),
      interactive: z._default(z.boolean(), false).check(describe('the caller can put the question to a user')),
    }),
    result: FilesTransfer,
  },
  'files.commit': {
    description: 'Answer a staged transfer: `confirm` must be the target’s name. Renames the staged files into place (and removes the sources of a move).',
    params: z.strictObject({ id: TransferId, confirm: z.string().check(z.maxLength(64)) }),
    result: FilesTransfer,
  },
  'files.discard': {
    description: 'Decline a staged transfer: its hidden folder on the target is removed.',
    params: z.strictObject({ id: TransferId }),
    result: FilesTransfer,
  },
  'files.log': {
    description: 'The most recent transfers and refusals from the log on the thin client, newest last; fewer when more would not fit one frame.',
    params: z.strictObject({ lines: z._default(z.int().check(z.gte(1), z.lte(10_000)), 50) }),
    result: z.object({ transfers: z.array(FilesTransfer), path: z.string() }),
  },
} as const;
