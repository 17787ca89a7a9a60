// zod/mini: the same validation as classic zod in a tree-shakable form, so towerctl starts fast (see bench/cli.ts).
import * as z from 'zod/mini';
import { WorldRestore } from './world.js';

/** Host names as TowerOS meant them (its own check never ran): 1–15 of [a-z0-9-], no leading/trailing hyphen. */
export const HOST_NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,13}[a-z0-9])?$/;
export const RESERVED_HOST_NAMES = ['thinclient'] as const;

export const HostName = z.string().check(
  z.regex(HOST_NAME_RE, '1–15 characters of lowercase letters, digits and inner hyphens'),
  z.refine((n) => !(RESERVED_HOST_NAMES as readonly string[]).includes(n), 'this name is reserved'),
);
export type HostName = z.infer<typeof HostName>;

export const Role = z.enum(['router', 'online', 'offline']);
export type Role = z.infer<typeof Role>;

export const IPv4 = z.ipv4();

/** TowerOS colours: ANSI SGR codes stored in tower.env COLOR, with the hex used for window borders. */
export const COLORS = [
  { code: 39, name: 'White', hex: '#ffffff' },
  { code: 31, name: 'Red', hex: '#cd0000' },
  { code: 32, name: 'Green', hex: '#00cd00' },
  { code: 33, name: 'Yellow', hex: '#cdcd00' },
  { code: 34, name: 'Blue', hex: '#0000ee' },
  { code: 35, name: 'Magenta', hex: '#cd00cd' },
  { code: 36, name: 'Cyan', hex: '#00cdcd' },
  { code: 37, name: 'Light gray', hex: '#e5e5e5' },
  { code: 91, name: 'Light red', hex: '#ff0000' },
  { code: 92, name: 'Light green', hex: '#00ff00' },
  { code: 93, name: 'Light yellow', hex: '#ffff00' },
  { code: 94, name: 'Light blue', hex: '#5c5cff' },
  { code: 95, name: 'Light magenta', hex: '#ff00ff' },
  { code: 96, name: 'Light cyan', hex: '#00ffff' },
] as const;

export const Color = z.object({
  code: z.int(),
  name: z.string(),
  hex: z.string().check(z.regex(/^#[0-9a-f]{6}$/)),
});
export type Color = z.infer<typeof Color>;

/**
 * Connection state of a host as towerd sees it.
 * `unsupervised`: known to the registry, no connection attempted (supervision disabled or not started).
 */
export const HostState = z.enum(['unsupervised', 'connecting', 'online', 'offline', 'auth-failed', 'hostkey-mismatch', 'provisioning']);
export type HostState = z.infer<typeof HostState>;

/** The result of a host's last automatic security update run (protocol/updates.ts has the details). */
export const UpdateOutcome = z.enum(['ok', 'failed', 'skipped']);
export type UpdateOutcome = z.infer<typeof UpdateOutcome>;

/**
 * A host's Alpine release and whether its branch still gets security fixes. `eol`: past its end of support (`eol` is
 * that date); `supported`: until `eol`; `edge`: the development branch, no end; `unknown`: a branch towerd has no
 * date for, or none could be read.
 */
export const AlpineRelease = z.object({
  version: z.nullable(z.string().check(z.maxLength(64))).check(z.describe('/etc/alpine-release, e.g. 3.19.1; null when the host has none')),
  branch: z.nullable(z.string().check(z.maxLength(16))).check(z.describe('the branch apk follows, from its repositories (else from the version): v3.19, edge')),
  eol: z.nullable(z.iso.date()).check(z.describe('end of support of the branch (YYYY-MM-DD)')),
  status: z.enum(['supported', 'eol', 'edge', 'unknown']),
  checkedAt: z.iso.datetime(),
});
export type AlpineRelease = z.infer<typeof AlpineRelease>;

export const UpdateSummary = z.object({
  pending: z.nullable(z.int()).check(z.describe('upgrades apk offered at the last check; null before the first check')),
  last: z.nullable(UpdateOutcome),
  lastAt: z.nullable(z.iso.datetime()),
  reason: z.nullable(z.string()).check(z.describe('why the last run failed or was skipped')),
  running: z.boolean(),
  release: z.optional(AlpineRelease.check(z.describe('the host’s Alpine branch and its end of support; absent before the host was read'))),
});
export type UpdateSummary = z.infer<typeof UpdateSummary>;

/** Sound of a host's apps: `on` (its PulseAudio forward is up), `off` (setting), `down` (on, but the forward or the thin client's PulseAudio is not working). */
export const SoundState = z.enum(['on', 'off', 'down']);
export type SoundState = z.infer<typeof SoundState>;

/** Clipboard policy of a host: `off`, `explicit` (only `towerctl clip copy|paste`), `auto` (TowerOS: every change both ways). */
export const ClipboardMode = z.enum(['off', 'explicit', 'auto']);
export type ClipboardMode = z.infer<typeof ClipboardMode>;

/** The last posture audit of a host (protocol/audit.ts): `open` when a check found something exposed. */
export const Posture = z.enum(['ok', 'open', 'unknown']);
export type Posture = z.infer<typeof Posture>;

/** One setting of a host's clock: the offset measured before and after (after: null when it could not be measured). */
export const ClockSet = z.object({
  at: z.iso.datetime(),
  beforeMs: z.number(),
  afterMs: z.nullable(z.number()),
  error: z.nullable(z.string().check(z.maxLength(500))).check(z.describe('why the setting failed; null when it worked')),
});
export type ClockSet = z.infer<typeof ClockSet>;

/** What towerd knows of a host's clock. */
export const HostClock = z.object({
  offsetMs: z.nullable(z.number()).check(z.describe('host clock minus the thin client’s, ms (RTT-corrected, the tightest of several samples); null before the first measurement')),
  boundMs: z.nullable(z.number()).check(z.describe('the true offset lies within offsetMs ± boundMs')),
  rttMs: z.nullable(z.number()),
  measuredAt: z.nullable(z.iso.datetime()),
  source: z.nullable(z.string().check(z.maxLength(32))).check(z.describe('the time service running on the host (chronyd, ntpd, …); "none"; null when not known yet')),
  policy: z.enum(['set', 'leave']).check(z.describe('set: towerd sets this clock when it is off by more than clock.maxOffsetMs; leave: never')),
  reason: z.string().check(z.maxLength(200), z.describe('why this policy: the host’s role, its time service, or clock.hosts')),
  lastSet: z.nullable(ClockSet),
  error: z.nullable(z.string().check(z.maxLength(500))).check(z.describe('why the last measurement failed')),
});
export type HostClock = z.infer<typeof HostClock>;
/**
 * A host reinstalled by `towerctl reprovision` until its saved world is restored: `waiting` for its first
 * connection on the new system, `restoring` (apk runs), then `done` (the difference and apk's outcome) or `failed`.
 */
export const ReinstallInfo = z.object({
  state: z.enum(['waiting', 'restoring', 'done', 'failed']),
  since: z.iso.datetime(),
  target: z.string().check(z.maxLength(4096)),
  world: z.nullable(WorldRestore),
  error: z.nullable(z.string().check(z.maxLength(2000))),
});
export type ReinstallInfo = z.infer<typeof ReinstallInfo>;
/** A host's backups as HostInfo shows them (status, the bar). */
export const BackupSummary = z.object({
  sets: z.int(),
  lastOkAt: z.nullable(z.iso.datetime()).check(z.describe('the oldest of the sets’ newest successful backups (null: a set has none)')),
  stale: z.boolean(),
  running: z.boolean(),
});
export type BackupSummary = z.infer<typeof BackupSummary>;

export const HostInfo = z.object({
  name: HostName,
  role: Role,
  ip: IPv4,
  network: z.string().check(z.describe('CIDR of the LAN the host sits on')),
  user: z.string(),
  identityFile: z.string(),
  color: Color,
  state: HostState,
  lastError: z.nullable(z.string()),
  lastContact: z.nullable(z.iso.datetime()).check(z.describe('when the host last answered')),
  rttMs: z.nullable(z.number()).check(z.describe('last keepalive round trip in milliseconds')),
  version: z.nullable(z.string()).check(z.describe('TOWEROS_VERSION from tower.env, when present')),
  sound: z.optional(SoundState.check(z.describe('sound forwarding of the host’s apps (desktop.sound)'))),
  clipboard: z.optional(ClipboardMode.check(z.describe('clipboard policy of the host (desktop.clipboard)'))),
  updates: z.optional(UpdateSummary.check(z.describe('automatic security updates; absent when they are off for this host'))),
  posture: z.optional(Posture.check(z.describe('the last posture audit (towerctl audit); absent before the first'))),
  menu: z.optional(
    z.object({ apps: z.int(), lastSync: z.nullable(z.iso.datetime()), lastError: z.nullable(z.string()) }).check(z.describe('app menus synced from the host (towerctl menu); absent when they are off for it')),
  ),
  clock: z.optional(HostClock.check(z.describe('the host’s clock against the thin client’s (towerd measures it on connection and every clock.everyMs)'))),
  reinstall: z.optional(ReinstallInfo.check(z.describe('towerctl reprovision: its saved world restored after the first connection on the new system; absent otherwise'))),
  backup: z.optional(BackupSummary.check(z.describe('backup sets of this host (towerctl backup); absent when it has none'))),
});
export type HostInfo = z.infer<typeof HostInfo>;
