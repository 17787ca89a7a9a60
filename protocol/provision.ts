import * as z from 'zod/mini';
import { HostInfo, HostName, IPv4, Role } from './host.js';

const describe = z.describe;

const AbsolutePath = z
  .string()
  .check(z.minLength(1), z.maxLength(4096), z.refine((p) => p.startsWith('/') && !p.includes('\0'), 'an absolute path'));

/** Where the image goes: a whole block device (an SD card, a USB stick) or a regular file. */
export const ProvisionTarget = z.strictObject({
  kind: z.enum(['device', 'file']),
  path: AbsolutePath.check(describe('a whole block device such as /dev/sdb, or the image file to create')),
});
export type ProvisionTarget = z.infer<typeof ProvisionTarget>;

/** The params both provisioning methods share: what host, from which image, onto what. */
const planShape = {
  name: HostName,
  role: Role,
  ip: z.optional(IPv4.check(describe('default: the next free address of the role’s network'))),
  image: AbsolutePath.check(describe('a raw host image (.img) or an xz-compressed one (.img.xz)')),
  target: ProvisionTarget,
  force: z._default(z.boolean(), false).check(
    describe('replace a host of that name, overwrite an existing target file, accept a non-removable device (never a mounted one or the system disk)'),
  ),
};

export const ProvisionCheckParams = z.strictObject(planShape);

export const BootPartition = z.object({
  table: z.enum(['dos', 'gpt']),
  offsetBytes: z.number(),
  sizeBytes: z.number(),
});

export const ImageInfo = z.object({
  path: z.string(),
  format: z.enum(['raw', 'xz']),
  fileBytes: z.number().check(describe('size of the image file as stored')),
  imageBytes: z.nullable(z.number()).check(describe('bytes that will be written (null: an xz stream that does not record it)')),
  bootPartition: BootPartition,
  towerosVersion: z.nullable(z.string()).check(describe('from the file name toweros-host-X.Y.Z-….img[.xz], as TowerOS reads it')),
});
export type ImageInfo = z.infer<typeof ImageInfo>;

export const TargetInfo = z.object({
  kind: z.enum(['device', 'file', 'host']),
  path: z.string(),
  /** `sdb` for /dev/sdb: what the user types to confirm */
  name: z.string(),
  description: z.string().check(describe('vendor, model and size of a device; "new file" or "existing file" otherwise')),
  sizeBytes: z.nullable(z.number()),
  removable: z.boolean(),
  exists: z.boolean(),
  fingerprint: z.string().check(describe('identifies this exact device or file; pass it to provision.run so a swapped card is refused')),
});
export type TargetInfo = z.infer<typeof TargetInfo>;

export const ProvisionPlan = z.object({
  name: HostName,
  role: Role,
  ip: IPv4,
  network: z.string(),
  thinClientIp: IPv4,
  thinClientAddressPresent: z.boolean().check(describe('whether this machine has the thin client’s address on that network now')),
  replaces: z.boolean().check(describe('a host of that name exists and will be replaced (force)')),
  supervised: z.boolean().check(describe('whether towerd connects to hosts, so that it will see the new host come up')),
  image: ImageInfo,
  target: TargetInfo,
  warnings: z.array(z.string()),
});
export type ProvisionPlan = z.infer<typeof ProvisionPlan>;

/** sha512-crypt as crypt(3) writes it, optionally with rounds. */
export const SHA512_CRYPT_RE = /^\$6\$(?:rounds=[1-9]\d{3,8}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$/;

export const ProvisionRunParams = z.strictObject({
  ...planShape,
  user: z.optional(
    z.string().check(z.regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a POSIX user name'), describe('default: the user towerd runs as')),
  ),
  keyFile: z.optional(z.string().check(z.minLength(1), describe('absolute path of an unencrypted OpenSSH ed25519 private key to copy'))),
  color: z.optional(z.int().check(describe('ANSI colour code; default: the next in TowerOS order'))),
  passwordHash: z
    .string()
    .check(
      z.regex(SHA512_CRYPT_RE, 'a sha512-crypt hash ($6$…)'),
      describe('PASSWORD_HASH for the host’s user and root; the password itself never reaches towerd'),
    ),
  wlan: z.optional(
    z.strictObject({
      ssid: z
        .string()
        .check(
          z.refine((s) => new TextEncoder().encode(s).length >= 1 && new TextEncoder().encode(s).length <= 32, '1–32 bytes'),
          // wpa_supplicant.conf holds it on one line (ssid="…" ends at the line's last quote): quotes and backslashes are fine
          z.refine((s) => !/\p{Cc}/u.test(s), 'no control characters'),
        ),
      psk: z.string().check(z.regex(/^[0-9a-f]{64}$/, 'the 64 hex digits of the WPA PSK'), describe('PBKDF2-HMAC-SHA1(passphrase, ssid, 4096, 32) in hex')),
    }),
  ),
  timezone: z.optional(z.string().check(z.regex(/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+){0,2}$/, 'an Area/City time zone such as Europe/Paris'))),
  keyboard: z.optional(
    z.strictObject({
      layout: z.string().check(z.regex(/^[a-z]{2,5}$/, 'a keymap layout such as us or fr')),
      variant: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_-]{2,32}$/, 'a keymap variant such as fr-azerty'))),
    }),
  ),
  lang: z.optional(z.string().check(z.regex(/^[a-z]{2,3}_[A-Z]{2}(?:\.[A-Za-z0-9-]+)?$/, 'a locale such as en_US or en_US.UTF-8'))),
  targetFingerprint: z.optional(z.string().check(z.maxLength(1024), describe('from provision.check: refuse when the target changed since'))),
});

export const ProvisionRunResult = z.object({
  host: HostInfo,
  publicKey: z.string().check(describe('the thin client’s public key for this host (authorized on it)')),
  hostKeys: z.array(z.string()).check(describe('the host’s own public host keys, pinned in known_hosts')),
  files: z.array(z.string()).check(describe('files put on the boot partition')),
  written: z.object({
    bytes: z.number(),
    sha256: z.string(),
    verified: z.boolean().check(describe('the bytes read back from the target have the source’s SHA-256')),
    ms: z.number(),
    bytesPerSecond: z.number(),
  }),
  supervised: z.boolean(),
  thinClientAddressPresent: z.boolean(),
  warnings: z.array(z.string()),
});
export type ProvisionRunResult = z.infer<typeof ProvisionRunResult>;

export const JobPhase = z.enum(['register', 'write', 'verify', 'inject', 'upload', 'done', 'failed']);
export type JobPhase = z.infer<typeof JobPhase>;

/** A long operation of towerd (writing a host image), as reported in `job.progress` events. */
export const JobInfo = z.object({
  id: z.string(),
  kind: z.enum(['provision', 'reprovision']),
  host: HostName,
  target: z.string(),
  phase: JobPhase,
  bytesDone: z.number(),
  bytesTotal: z.nullable(z.number()),
  bytesPerSecond: z.nullable(z.number()),
  message: z.nullable(z.string()),
});
export type JobInfo = z.infer<typeof JobInfo>;

/** What reinstalling an existing host takes: the host, the image, where it goes. */
/** Where a reinstall goes: a device or file here, or (`host`) the host's own boot device, written over its connection. */
export const ReprovisionTarget = z.union([
  ProvisionTarget,
  z.strictObject({
    kind: z.literal('host'),
    path: z.optional(AbsolutePath.check(describe('the boot device on the host (default: the disk holding the first of reprovision.bootMounts there)'))),
  }),
]);
export type ReprovisionTarget = z.infer<typeof ReprovisionTarget>;

const reprovisionShape = {
  name: HostName,
  image: planShape.image,
  target: ReprovisionTarget,
  force: z._default(z.boolean(), false).check(
    describe('reinstall even while apps run on the host; overwrite an existing target file, accept a non-removable device (never a mounted one or the system disk)'),
  ),
};

export const ReprovisionPlan = z.object({
  name: HostName,
  role: Role,
  ip: IPv4,
  image: ImageInfo,
  target: TargetInfo,
  /** apps running on the host now (refused unless force) */
  appsRunning: z.int(),
  hostKeys: z.array(z.string().check(z.maxLength(16 * 1024))).check(z.maxLength(8), describe('the host’s own public keys from its folder, pinned as they are')),
  files: z.array(z.string()).check(describe('what goes onto the boot partition')),
  /** the host has a saved world to restore after its first connection on the new system */
  world: z.boolean(),
  warnings: z.array(z.string()),
});
export type ReprovisionPlan = z.infer<typeof ReprovisionPlan>;

export const ReprovisionRunResult = z.object({
  host: HostInfo,
  hostKeys: z.array(z.string()),
  files: z.array(z.string()),
  written: ProvisionRunResult.shape.written,
  supervised: z.boolean(),
  world: z.boolean(),
  warnings: z.array(z.string()),
});
export type ReprovisionRunResult = z.infer<typeof ReprovisionRunResult>;

export const provisionMethods = {
  'provision.check': {
    description:
      'Check a provisioning plan without changing anything: the name, the address it would get, the image (its FAT boot partition) and the target ' +
      '(refused: a mounted device, the system disk, a partition, anything that is not a block device; a non-removable device or an existing file unless force).',
    params: ProvisionCheckParams,
    result: ProvisionPlan,
  },
  'provision.run': {
    description:
      'Provision a host: generate its client key, host keys, crypto_keyfile.bin and tower.env, register it (address, ssh config block, host keys pinned in known_hosts), ' +
      'write the image to the target, verify it by SHA-256, and put tower.env, the key file and the host keys on its FAT boot partition. ' +
      'Replies when done; meanwhile `job.progress` events go to `jobs` subscribers. Closing the connection aborts, and a failure removes the host again. ' +
      'The host then shows `provisioning` until towerd first reaches it.',
    params: ProvisionRunParams,
    result: ProvisionRunResult,
  },
  'reprovision.check': {
    description:
      'Check a reinstall of an existing host without changing anything: its folder must hold its host keys, crypto_keyfile.bin and tower.env; ' +
      'refused while apps run on it unless force; the image and the target are checked as for provision.check.',
    params: z.strictObject(reprovisionShape),
    result: ReprovisionPlan,
  },
  'reprovision.run': {
    description:
      'Reinstall a host: write the image to the target, verify it by SHA-256, and put on its FAT boot partition the host’s own tower.env ' +
      '(INSTALLATION_TYPE=upgrade, no PASSWORD_HASH: /home and its LUKS key survive), crypto_keyfile.bin and host keys, unchanged; known_hosts is not touched. ' +
      '`job.progress` events go to `jobs` subscribers; closing the connection aborts. Afterwards the host shows `reinstall` ' +
      'until its first connection on the new system, when towerd restores its saved world (as towerctl install --world).',
    params: z.strictObject({ ...reprovisionShape, targetFingerprint: ProvisionRunParams.shape.targetFingerprint }),
    result: ReprovisionRunResult,
  },
} as const;
