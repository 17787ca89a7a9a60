import { z } from 'zod';
import { readIfExists } from './util/fs.js';

const HostNameSetting = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,13}[a-z0-9])?$/, 'a host name');

const Cidr24 = z
  .string()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/, 'a /24 network such as 192.168.2.0/24')
  .refine((s) => s.split('/')[0]!.split('.').every((o) => Number(o) <= 255), 'octets must be 0–255');

/** A daily local time range, `HH:MM-HH:MM`; the end may be before the start (crossing midnight), never equal. */
export const UpdateWindow = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$/, 'a daily time range such as "03:00-05:00"')
  .refine((w) => w.slice(0, 5) !== w.slice(6) && (w.slice(6, 8) !== '24' || w.slice(6) === '24:00'), 'the window must not be empty');

/** a folder on a host: absolute, or `~/…` in the login user's home; no newlines (host scripts list them a line each) */
const HostDir = z.string().max(1024).regex(/^(?:\/|~\/)[^\0\n]*$/, 'an absolute path or ~/PATH');

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
            /** after a loss, a new TCP connect every fastMs (0: off) for fastForMs, overlapping the pending ones */
            fastMs: z.number().int().min(0).max(60_000).default(250),
            fastForMs: z.number().int().min(0).max(3_600_000).default(30_000),
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
            /** CONNECT (https) to allowed hosts; false: http:// repositories only */
            connect: z.boolean().default(true),
            /** the ports CONNECT may reach (also in the host's own `ports`) */
            connectPorts: z.array(z.number().int().min(1).max(65535)).min(1).max(16).default([443]),
            /** a tunnel is cut after this long… */
            tunnelMaxMs: z.number().int().min(1000).max(6 * 3_600_000).default(1_800_000),
            /** …or once this many bytes went through it, both ways… */
            tunnelMaxBytes: z.number().int().min(1024).max(64 * 1024 ** 3).default(4 * 1024 ** 3),
            /** …or once the host sent this many into it (a package download sends little) */
            tunnelMaxUploadBytes: z.number().int().min(1024).max(1024 ** 3).default(16 * 1024 * 1024),
          })
          .strict()
          .prefault({}),
        /** automatic security updates (daemon/features/updates/) */
        updates: z
          .object({
            enabled: z.boolean().default(true),
            /** at most one successful run per host per interval, counted from the end of the last one */
            intervalHours: z.number().min(1).max(24 * 31).default(24),
            /** daily local time range when runs may start ("03:00-05:00", may cross midnight); null: any time */
            window: UpdateWindow.nullable().default(null),
            /** hosts updated at the same time */
            maxConcurrent: z.number().int().min(1).max(16).default(2),
            /** false: only refresh the index and count pending upgrades */
            upgrade: z.boolean().default(true),
            /** a host must have been connected this long before an automatic run (boot, reconnects) */
            settleMs: z.number().int().min(0).max(3_600_000).default(120_000),
            /** after a failed run: wait initialMs, doubling per failure in a row, up to capMs */
            retry: z
              .object({
                initialMs: z.number().int().min(1000).max(86_400_000).default(900_000),
                capMs: z.number().int().min(1000).max(7 * 86_400_000).default(21_600_000),
              })
              .strict()
              .prefault({}),
            /** each apk command on a host is ended after this long */
            timeoutMs: z.number().int().min(10_000).max(6 * 3_600_000).default(1_800_000),
            /** per host: overrides of enabled, intervalHours and window */
            hosts: z
              .record(
                z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,13}[a-z0-9])?$/, 'a host name'),
                z
                  .object({
                    enabled: z.boolean().optional(),
                    intervalHours: z.number().min(1).max(24 * 31).optional(),
                    window: UpdateWindow.nullable().optional(),
                  })
                  .strict(),
              )
              .default({}),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** GUI apps from hosts (`towerctl run`, daemon/features/apps/) */
    desktop: z
      .object({
        /** the VNC viewer towerd spawns per app; `{socket}` is replaced by towerd's Unix socket for the app (appended when absent) */
        viewer: z
          .array(z.string().min(1))
          .min(1)
          .default(['vncviewer', '-RemoteResize=1', '-AlertOnFatalError=0', '-ReconnectOnError=0', '-MenuKey=', '{socket}']),
        /** give the viewer's X window the class `tower-HOST` (xdotool set_window) so sway's per-host rules match it */
        viewerClass: z.boolean().default(true),
        /** resize the app's screen as soon as the viewer window changes size (xev here, xrandr on the host) instead of after vncviewer's own 0.5 s delay */
        fastResize: z.boolean().default(true),
        /** closing: WM_DELETE_WINDOW to the app's windows, then TERM after this long (KILL after twice as long) */
        closeGraceMs: z.number().int().min(100).max(60_000).default(3000),
        /** `towerctl run` fails when the viewer has no first framebuffer update by then */
        startTimeoutMs: z.number().int().min(1000).max(120_000).default(20_000),
        /** the app's desktop size before the viewer asks for its own */
        width: z.number().int().min(64).max(16384).default(1280),
        height: z.number().int().min(64).max(16384).default(800),
        /** sound of the hosts' apps: one forward per host from its 127.0.0.1:4713 to the thin client's PulseAudio (daemon/features/sound/) */
        sound: z.enum(['on', 'off']).default('on'),
        /** the thin client's PulseAudio: `auto` ($XDG_RUNTIME_DIR/pulse/native), a Unix socket path (`unix:` optional) or `tcp:127.0.0.1:PORT` */
        soundServer: z
          .string()
          .regex(/^(auto|(unix:)?\/[^\0]{1,106}|tcp:(127\.0\.0\.1|localhost):\d{1,5})$/, 'auto, a Unix socket path, or tcp:127.0.0.1:PORT')
          .default('auto'),
        /** clipboard between hosts' apps and the thin client (daemon/features/clipboard/) */
        clipboard: z.enum(['off', 'explicit', 'auto']).default('explicit'),
        /** larger clipboard contents are refused, never truncated */
        clipboardMaxBytes: z.number().int().min(1).max(64 * 1024 * 1024).default(1024 * 1024),
        /** per host: overrides of sound and clipboard */
        hosts: z
          .record(
            z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,13}[a-z0-9])?$/, 'a host name'),
            z.object({ sound: z.enum(['on', 'off']).optional(), clipboard: z.enum(['off', 'explicit', 'auto']).optional() }).strict(),
          )
          .default({}),
      })
      .strict()
      .prefault({}),
    /** the posture audit (`towerctl audit`, daemon/features/audit/) */
    audit: z
      .object({
        /** audit a host after it connects (at most once per intervalMs; `towerctl audit` any time) */
        auto: z.boolean().default(true),
        intervalMs: z.number().int().min(60_000).max(7 * 86_400_000).default(3_600_000),
        /** wait this long after a host connects before auditing it (the router may still be on its way) */
        settleMs: z.number().int().min(0).max(600_000).default(10_000),
        /** each TCP connect from a host gives up after this long */
        connectTimeoutMs: z.number().int().min(100).max(10_000).default(1500),
        /** sshd's configuration file for `sshd -T -f`; null: sshd's own default (/etc/ssh/sshd_config) */
        sshdConfig: z.string().regex(/^\/[^\0]{0,4095}$/, 'an absolute path').nullable().default(null),
        /** where a host may have its boot partition mounted (TowerOS's installer: /media/usb or /media/mmcblk0p1) */
        bootMounts: z
          .array(z.string().regex(/^\/[^\0]{0,4095}$/, 'an absolute path'))
          .max(16)
          .default(['/media/usb', '/media/mmcblk0p1', '/boot']),
      })
      .strict()
      .prefault({}),
    /** argv run on a host by `towerctl poweroff` (TowerOS hosts have doas linked as sudo) */
    poweroffCommand: z.array(z.string().min(1)).min(1).default(['sudo', 'poweroff']),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') })
      .strict()
      .prefault({}),
    /** app menus synced from hosts (`towerctl menu`, daemon/features/menus/) */
    menus: z
      .object({
        /** write menu entries for every host's apps (each host may say otherwise in `hosts`) */
        enabled: z.boolean().default(true),
        hosts: z.record(z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,13}[a-z0-9])?$/, 'a host name'), z.boolean()).default({}),
        /** where a host's desktop entries are read (earlier folders win for the same file name); `~/` is the login user's home */
        applicationDirs: z
          .array(HostDir)
          .min(1)
          .max(16)
          .default(['~/.local/share/applications', '/usr/local/share/applications', '/usr/share/applications']),
        /** where the icons they name are looked up: hicolor theme folders (scalable/apps, NxN/apps) and pixmaps folders */
        iconDirs: z.array(HostDir).max(16).default(['~/.local/share/icons/hicolor', '/usr/share/icons/hicolor', '/usr/share/pixmaps']),
        /** a Terminal=true app runs as `towerctl run HOST -- TERMINAL... ARGV`: an X terminal, since apps get an X display */
        // eslint-disable-next-line no-control-regex
        terminal: z.array(z.string().min(1).max(256).regex(/^[^\0-\x1f\x7f]*$/, 'no control characters')).min(1).max(8).default(['xterm', '-e']),
        /** the argv written entries start with (an absolute path when towerctl is not on the launcher's PATH) */
        // eslint-disable-next-line no-control-regex
        towerctl: z.array(z.string().min(1).max(1024).regex(/^[^\0-\x1f\x7f]*$/, 'no control characters')).min(1).max(8).default(['towerctl']),
        maxFileBytes: z.number().int().min(1024).max(1024 * 1024).default(64 * 1024),
        maxIconBytes: z.number().int().min(1024).max(4 * 1024 * 1024).default(256 * 1024),
        maxHostBytes: z.number().int().min(64 * 1024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
        maxApps: z.number().int().min(1).max(5000).default(1000),
        /** a host is read this long after it connects, if it is still connected (package changes are read at once) */
        settleMs: z.number().int().min(0).max(600_000).default(2000),
        /** how long the read of a host's entries may take */
        timeoutMs: z.number().int().min(1000).max(300_000).default(30_000),
      })
      .strict()
      .prefault({}),
    /** the thin client's own state export (`towerctl backup export`, daemon/features/export/) */
    stateExport: z
      .object({
        /** the bar and `status` warn when no export is newer than the registry's last change (off: reported, not flagged) */
        warn: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /** host clocks (daemon/features/clock/): measured on every connection and every everyMs, set where needed */
    clock: z
      .object({
        /** measure every connected host's clock this often (and on every connection) */
        everyMs: z.number().int().min(10_000).max(86_400_000).default(300_000),
        /** a clock whose policy is `set` is set when it is off by more than this */
        maxOffsetMs: z.number().int().min(100).max(86_400_000).default(1000),
        /**
         * per host: `set: true` sets its clock even when it runs a time service, `set: false` never does; without an
         * entry an offline host's clock is set unless it runs a time service, and no other host's is
         */
        hosts: z
          .record(z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,13}[a-z0-9])?$/, 'a host name'), z.object({ set: z.boolean().optional() }).strict())
          .default({}),
      })
      .strict()
      .prefault({}),
    /** files between hosts (`towerctl cp`/`mv`, daemon/features/files/) */
    files: z
      .object({
        /** a transfer carries at most this many bytes of file data; a larger entry is refused by name */
        maxBytes: z.number().int().min(1).max(2 ** 50).default(4 * 1024 ** 3),
        /** and at most this many entries (files and folders) */
        maxEntries: z.number().int().min(1).max(10_000_000).default(100_000),
        /**
         * ordered rules, first match wins, no match = ask. from/to: a role (online, offline, router, thinclient)
         * or a host name (`local` is the thin client). `yes: true` lets `--yes` answer an `ask` rule.
         */
        policy: z
          .array(
            z
              .object({
                from: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,13}[a-z0-9])?$/, 'a role or host name'),
                to: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,13}[a-z0-9])?$/, 'a role or host name'),
                action: z.enum(['allow', 'ask', 'deny']),
                yes: z.boolean().default(false),
              })
              .strict(),
          )
          .max(256)
          .default([{ from: 'offline', to: 'online', action: 'deny', yes: false }]),
        /** the transfer log on the thin client (~/.local/tower/files.log) keeps about this many bytes */
        logBytes: z.number().int().min(4096).max(64 * 1024 * 1024).default(1024 * 1024),
        /** a transfer waiting for the user's answer is dropped (its staged copy removed) after this long */
        askTimeoutMs: z.number().int().min(1000).max(3_600_000).default(600_000),
      })
      .strict()
      .prefault({}),
    /** the router's Wi-Fi (`towerctl wlan router`, daemon/features/wlan/) */
    wlan: z
      .object({
        /** the router's Wi-Fi interface */
        interface: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'an interface name').default('wlan0'),
        /** wpa_supplicant's configuration file on the router (TowerOS's place) */
        confPath: z.string().regex(/^\/[A-Za-z0-9_./-]{1,255}$/, 'an absolute path of plain characters').default('/etc/wpa_supplicant/wpa_supplicant.conf'),
        /** argv (after the privilege command) that restarts Wi-Fi on the router: OpenRC's, as on Alpine */
        restart: z.array(z.string().min(1).max(256)).min(1).max(16).default(['rc-service', 'wpa_supplicant', 'restart']),
        /** wpa_cli's argv (after the privilege command), for the status */
        wpaCli: z.array(z.string().min(1).max(256)).min(1).max(16).default(['wpa_cli']),
        /** HOST:PORT the router must reach through Wi-Fi for a change to stick (a TCP connect; the name resolved there) */
        checkTarget: z
          .string()
          .regex(/^[A-Za-z0-9.-]{1,253}:\d{1,5}$/, 'HOST:PORT')
          .default('dl-cdn.alpinelinux.org:443'),
      })
      .strict()
      .prefault({}),
    reprovision: z
      .object({
        /** --on-host: argv run on the host once its new system is on its boot device */
        rebootCommand: z.array(z.string().min(1)).min(1).max(32).default(['sudo', 'reboot']),
        /** argv whose output tells one boot of a host from the next (the first connection on the new system) */
        bootIdCommand: z.array(z.string().min(1)).min(1).max(32).default(['cat', '/proc/sys/kernel/random/boot_id']),
        /** --on-host without --boot-device: the disk holding the first of these mounts is the host's boot device */
        bootMounts: z
          .array(z.string().regex(/^\/[^\0]{0,4095}$/, 'an absolute path'))
          .max(16)
          .default(['/media/usb', '/media/mmcblk0p1', '/boot']),
      })
      .strict()
      .prefault({}),
    /** backups (`towerctl backup`, daemon/features/backup/): restic on the source host, its repository on a storage host */
    backup: z
      .object({
        sets: z
          .array(
            z
              .object({
                /** the host whose files are backed up (restic runs there as its login user) */
                host: HostNameSetting,
                /** the set's name within its host: its key file and state are kept under it */
                name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, '1–32 of [a-z0-9_-]').default('home'),
                /** absolute, or relative to the login user's home; empty: the whole home */
                paths: z.array(z.string().min(1).max(4096).regex(/^[^\0\n]+$/, 'a path')).max(64).default([]),
                /** restic --exclude patterns */
                excludes: z.array(z.string().min(1).max(4096).regex(/^[^\0\n]+$/, 'a pattern')).max(256).default([]),
                storage: z
                  .object({
                    host: HostNameSetting,
                    /** the repository's folder on the storage host: absolute, or relative to its login user's home */
                    folder: z
                      .string()
                      .min(1)
                      .max(1024)
                      .regex(/^[^\0\n]+$/, 'a path')
                      .refine((f) => !f.split('/').includes('..'), 'no .. components')
                      .refine((f) => f.replace(/\/+$/, '') !== '' && f !== '.', 'not the root or the home itself'),
                  })
                  .strict(),
                /** a backup every this many hours (fractions allowed: 0.01 is 36 s) */
                everyHours: z.number().min(0.001).max(24 * 366).default(24),
                /** the freshness target: older than this, the host shows as not backed up */
                maxAgeHours: z.number().min(0.001).max(24 * 366).default(48),
              })
              .strict(),
          )
          .max(256)
          .default([]),
        /** `restic check --read-data-subset=verifyReadPercent%` this often (hours; fractions allowed) */
        verifyEveryHours: z.number().min(0.001).max(24 * 366).default(168),
        verifyReadPercent: z.number().int().min(1).max(100).default(5),
        /** at most this many runs at a time (backup, verify, restore) */
        maxConcurrent: z.number().int().min(1).max(16).default(2),
        /** both hosts connected this long before a run starts */
        settleMs: z.number().int().min(0).max(600_000).default(10_000),
        /** a run is stopped after this long */
        timeoutMs: z.number().int().min(10_000).max(7 * 86_400_000).default(12 * 3_600_000),
        retry: z
          .object({
            initialMs: z.number().int().min(1000).max(86_400_000).default(10 * 60_000),
            capMs: z.number().int().min(1000).max(7 * 86_400_000).default(12 * 3_600_000),
          })
          .strict()
          .prefault({}),
        /** the program on the source host, and what it runs as restic's sftp.command to reach 127.0.0.1:PORT */
        restic: z.string().min(1).max(256).regex(/^[^\0\s]+$/, 'a program').default('restic'),
        /** `auto`: a python3 pipe with TCP_NODELAY where the host has python3, else `nc`; or a program given here */
        netcat: z.string().min(1).max(256).regex(/^[^\0\s]+$/, 'a program').default('auto'),
      })
      .strict()
      .prefault({})
      .refine((b) => new Set(b.sets.map((s) => `${s.host}/${s.name}`)).size === b.sets.length, 'two backup sets of one host share a name')
      .refine((b) => b.sets.every((s) => s.host !== s.storage.host), 'a set’s storage host must be another host'),
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
