// Rotating a host's client key (`towerctl host rotate-key`).
import * as z from 'zod/mini';
import { HostName } from './host.js';

/** `ssh-ed25519 AAAA… comment`, as in id_ed25519.pub and authorized_keys. */
export const PublicKeyLine = z.string().check(z.maxLength(512), z.regex(/^ssh-ed25519 [A-Za-z0-9+/=]+( [^\n]*)?$/));

/**
 * The steps of a rotation, in order, as journaled in the host's folder (daemon/features/keys/journal.ts explains
 * which key the host accepts at each and what a restart of towerd does about it).
 */
export const RotationStep = z.enum(['staged', 'added', 'proven', 'installed', 'removed']);
export type RotationStep = z.infer<typeof RotationStep>;

export const RotationResult = z.object({
  host: HostName,
  oldPublicKey: PublicKeyLine,
  newPublicKey: PublicKeyLine,
  /** SHA256:… of the new key, as `ssh-keygen -lf` prints it */
  fingerprint: z.string().check(z.maxLength(64)),
  durationMs: z.number(),
});
export type RotationResult = z.infer<typeof RotationResult>;

export const keysMethods = {
  'keys.rotate': {
    description:
      'Give a connected host a new client key: a fresh ed25519 pair, its public key added to the host’s ~/.ssh/authorized_keys over the ' +
      'current connection, a second connection made with it (the same host-key pinning), then the new key put in place here and the old one ' +
      'removed there. Every step is journaled in the host’s folder; towerd finishes or rolls back an interrupted rotation when the host next connects.',
    params: z.strictObject({ host: HostName }),
    result: RotationResult,
  },
} as const;
