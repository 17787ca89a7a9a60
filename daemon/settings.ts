import { z } from 'zod';
import { readIfExists } from './util/fs.js';

const Cidr24 = z
  .string()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/, 'a /24 network such as 192.168.2.0/24')
  .refine((s) => s.split('/')[0]!.split('.').every((o) => Number(o) <= 255), 'octets must be 0–255');

/**
 * towerd.json: optional; every key has TowerOS's default. Unknown keys are an error so that typos are noticed.
 */
export const Settings = z
  .object({
    networks: z
      .object({
        online: Cidr24.default('192.168.2.0/24'),
        offline: Cidr24.default('192.168.3.0/24'),
      })
      .strict()
      .prefault({}),
    /** last octet of the thin client on both networks */
    thinClientOctet: z.number().int().min(2).max(254).default(100),
    /** hosts other than the router get addresses from firstHostOctet to lastHostOctet */
    firstHostOctet: z.number().int().min(2).max(254).default(200),
    lastHostOctet: z.number().int().min(2).max(254).default(254),
    /** keep one SSH connection per host (off: the registry only, e.g. on a machine that is not the thin client) */
    supervise: z.boolean().default(true),
    ssh: z
      .object({
        port: z.number().int().min(1).max(65535).default(22),
        connectTimeoutMs: z.number().int().min(100).max(60_000).default(1000),
        handshakeTimeoutMs: z.number().int().min(500).max(120_000).default(5000),
        keepalive: z
          .object({
            /** a probe every intervalMs… */
            intervalMs: z.number().int().min(100).max(300_000).default(1000),
            /** …and the host is offline after this long without any reply */
            timeoutMs: z.number().int().min(100).max(300_000).default(1500),
          })
          .strict()
          .refine((k) => k.intervalMs < k.timeoutMs, { message: 'keepalive intervalMs must be shorter than timeoutMs' })
          .prefault({}),
        reconnect: z
          .object({
            initialMs: z.number().int().min(10).max(60_000).default(200),
            capMs: z.number().int().min(10).max(600_000).default(1000),
            longCapMs: z.number().int().min(10).max(600_000).default(5000),
            longAfterMs: z.number().int().min(0).max(86_400_000).default(60_000),
          })
          .strict()
          .prefault({}),
        authRetryMs: z.number().int().min(1000).max(86_400_000).default(60_000),
      })
      .strict()
      .prefault({}),
    packages: z
      .object({
        /** what makes apk run as root on a host (TowerOS links doas as sudo) */
        privilege: z.array(z.string().min(1)).default(['sudo']),
        /** apk and fixed options */
        apk: z.array(z.string().min(1)).min(1).default(['apk']),
        /** apk's list of explicitly installed packages on a host, saved to hosts/NAME/world after each change */
        worldFile: z.string().regex(/^\//, 'an absolute path').default('/etc/apk/world'),
        relay: z
          .object({
            allow: z
              .array(z.object({ host: z.string().min(1).max(253), ports: z.array(z.number().int().min(1).max(65535)).min(1) }).strict())
              .default([{ host: 'dl-cdn.alpinelinux.org', ports: [80, 443] }]),
            /** CONNECT (https) to allowed hosts */
            connect: z.boolean().default(true),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** argv run on a host by `towerctl poweroff` (TowerOS hosts have doas linked as sudo) */
    poweroffCommand: z.array(z.string().min(1)).min(1).default(['sudo', 'poweroff']),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((s) => s.firstHostOctet <= s.lastHostOctet, { message: 'firstHostOctet must not exceed lastHostOctet' })
  .refine((s) => s.thinClientOctet < s.firstHostOctet || s.thinClientOctet > s.lastHostOctet, {
    message: 'the thin client address must lie outside the host range',
  })
  .refine((s) => s.networks.online !== s.networks.offline, { message: 'online and offline networks must differ' });
export type Settings = z.infer<typeof Settings>;

export const DEFAULT_SETTINGS: Settings = Settings.parse({});

export class SettingsError extends Error {}

export async function loadSettings(path: string): Promise<Settings> {
  const text = await readIfExists(path);
  if (text === undefined) return DEFAULT_SETTINGS;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SettingsError(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  const parsed = Settings.safeParse(raw);
  if (!parsed.success) throw new SettingsError(`${path}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
