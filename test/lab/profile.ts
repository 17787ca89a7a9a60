// Host profiles. `alpine` (the default) makes each host look like a stock TowerOS host to everything Tower sends:
// busybox ash as /bin/sh and login shell, busybox applets first on the login user's PATH, TowerOS's stock tools
// next, doas (with `sudo` as a link to it) and apk; whatever else Tower needs appears only when apk installs its
// package. `debian` is the machine itself (bash, GNU tools, everything installed). See README.md, "Host profiles".
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BOOT_MOUNT } from './enter.js';
import { runOk } from './exec.js';
import { buildRepo } from './alpine/repo.js';
import { hostPackageSpecs } from './alpine/hostPackages.js';
import type { LabUser } from './user.js';

export type HostProfile = 'alpine' | 'debian';

/** `TOWER_LAB_PROFILE=debian` runs every lab on the Debian profile (the smoke run); default alpine. */
export function defaultProfile(): HostProfile {
  const p = process.env.TOWER_LAB_PROFILE;
  if (p === undefined || p === '' || p === 'alpine') return 'alpine';
  if (p === 'debian') return 'debian';
  throw new Error(`TOWER_LAB_PROFILE must be 'alpine' or 'debian', got '${p}'`);
}

export const BUSYBOX = '/bin/busybox';
/** Inside a host: the profile's files on the boot media. */
export const ALPINE_DIR = `${BOOT_MOUNT}/alpine`;
/** Inside a host: apk's root (a host-private tmpfs; TowerOS's is `/`, which the lab hosts share with the machine). */
export const APK_ROOT = '/run/alpine';
/** Inside a host: the stand-in's file naming its default root (install.ts). */
const STANDIN_DIR = '/run/apk-standin';

/** The login user's PATH on an Alpine-like host: busybox, apk, what apk installed, the stock tools. */
export const ALPINE_PATH = [
  `${ALPINE_DIR}/busybox`,
  '/usr/local/bin',
  `${APK_ROOT}/usr/bin`,
  `${APK_ROOT}/usr/sbin`,
  `${APK_ROOT}/bin`,
  `${APK_ROOT}/sbin`,
  `${ALPINE_DIR}/bin`,
].join(':');

/** TowerOS doas.conf (installer: `permit nopass USER as root`). */
export const doasConf = (user: string): string => `permit nopass ${user} as root\n`;

/**
 * Busybox applets left out of the applet folder: TowerOS's world has `procps`, whose programs replace these on
 * Alpine (they come from STOCK_TOOLS instead), and a few that would reach beyond the host (none of them is used).
 */
const NOT_APPLETS = new Set(['ps', 'pgrep', 'pkill', 'top', 'free', 'uptime', 'watch', 'pmap', 'pwdx', 'sysctl', 'pidof', 'kill']);

/**
 * Programs of TowerOS's stock host image (alpine-hosts.md) that a Tower host or the tests run, as the Debian
 * program of the same name. flock, nohup and cksum are busybox applets on Alpine but missing from Debian's busybox
 * build, so util-linux's and coreutils' stand in (README: differences).
 */
const STOCK_TOOLS: Record<string, string> = {
  doas: '/usr/bin/doas',
  sudo: '/usr/bin/doas',
  python3: '/usr/bin/python3',
  xclip: '/usr/bin/xclip',
  xauth: '/usr/bin/xauth',
  xprop: '/usr/bin/xprop',
  Xvfb: '/usr/bin/Xvfb',
  x11vnc: '/usr/bin/x11vnc',
  runuser: '/usr/sbin/runuser',
  ps: '/usr/bin/ps',
  pgrep: '/usr/bin/pgrep',
  pkill: '/usr/bin/pkill',
  top: '/usr/bin/top',
  free: '/usr/bin/free',
  uptime: '/usr/bin/uptime',
  watch: '/usr/bin/watch',
  pmap: '/usr/bin/pmap',
  pwdx: '/usr/bin/pwdx',
  pidof: '/usr/bin/pidof',
  kill: '/usr/bin/kill',
  sysctl: '/usr/sbin/sysctl',
  flock: '/usr/bin/flock',
  nohup: '/usr/bin/nohup',
  cksum: '/usr/bin/cksum',
  ssh: '/usr/bin/ssh',
  scp: '/usr/bin/scp',
  'ssh-keygen': '/usr/bin/ssh-keygen',
  openssl: '/usr/bin/openssl',
  iptables: '/usr/sbin/iptables',
  lsblk: '/usr/bin/lsblk',
  sfdisk: '/usr/sbin/sfdisk',
  getent: '/usr/bin/getent',
};

/**
 * TowerOS's xdotool is 3.20211022.1 (Alpine 3.19), whose `windowquit WINDOW` sends `_NET_CLOSE_WINDOW`; Debian 12's
 * 3.20160805 has no `windowquit`. The stock `xdotool` here is Debian's with that one command done by the machine's
 * wmctrl, which sends the same client message (README: differences).
 */
const XDOTOOL_LAUNCHER = `#!/bin/sh
if [ "$1" = windowquit ] && [ $# -eq 2 ]; then exec /usr/bin/wmctrl -i -c "$2"; fi
exec /usr/bin/xdotool "$@"
`;

let appletCache: string[] | undefined;
async function busyboxApplets(): Promise<string[]> {
  if (!appletCache) {
    const r = await runOk([BUSYBOX, '--list'], { context: 'listing busybox applets (Debian package busybox)' });
    appletCache = r.stdout.split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox');
  }
  return appletCache;
}

/** An empty doas.conf at /etc/doas.conf on the machine, as the mount point of each host's own (permits nobody). */
async function ensureDoasMountPoint(): Promise<void> {
  if (!existsSync('/usr/bin/doas')) throw new Error('the alpine profile needs doas (Debian package opendoas; scripts/system-deps.sh)');
  if (!existsSync('/etc/doas.conf')) await writeFile('/etc/doas.conf', '# Tower lab: each lab host mounts its own doas.conf here; this one permits nobody.\n', { mode: 0o600 });
}

/** Writes the profile's part of a host's boot media: applets, stock tools, passwd, doas.conf, the tool packages. */
export async function writeAlpineBoot(bootDir: string, user: LabUser): Promise<void> {
  if (!existsSync(BUSYBOX)) throw new Error(`the alpine profile needs ${BUSYBOX} (Debian package busybox; scripts/system-deps.sh)`);
  await ensureDoasMountPoint();
  const dir = join(bootDir, 'alpine');
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'busybox'), { recursive: true, mode: 0o755 });
  await mkdir(join(dir, 'bin'), { mode: 0o755 });
  await chmod(dir, 0o755);
  await Promise.all([
    // date: the lab's stand-in (hostInit.ts), which hands everything but -s to busybox
    ...(await busyboxApplets()).filter((a) => !NOT_APPLETS.has(a)).map((a) => symlink(a === 'date' ? `${BOOT_MOUNT}/date` : BUSYBOX, join(dir, 'busybox', a))),
    ...Object.entries(STOCK_TOOLS)
      .filter(([, target]) => existsSync(target))
      .map(([name, target]) => symlink(target, join(dir, 'bin', name))),
    ...(existsSync('/usr/bin/xdotool') ? [writeFile(join(dir, 'bin', 'xdotool'), XDOTOOL_LAUNCHER, { mode: 0o755 })] : []),
  ]);
  // The login user's shell is busybox ash (/bin/sh here; TowerOS's adduser gives /bin/ash).
  const passwd = (await readFile('/etc/passwd', 'utf8'))
    .split('\n')
    .map((l) => {
      const f = l.split(':');
      return f[0] === user.name && f.length >= 7 ? [...f.slice(0, 6), '/bin/sh'].join(':') : l;
    })
    .join('\n');
  await writeFile(join(dir, 'passwd'), passwd, { mode: 0o644 });
  await writeFile(join(dir, 'doas.conf'), doasConf(user.name), { mode: 0o600 });
  // What apk can install on this host without a network (lab.ts preinstalls from it): unsigned, file:// only.
  buildRepo({ dir: join(dir, 'repo'), packages: hostPackageSpecs(), repo: 'tower', buildTime: 1_700_000_000 });
}

/** Lines of the host init (bash, cwd = the boot dir, as root in the host's own mount namespace). */
export const ALPINE_INIT = `mount --no-canonicalize --bind ./alpine/passwd /etc/passwd
mount --no-canonicalize --bind ./alpine/doas.conf /etc/doas.conf
mount --bind ${BUSYBOX} /bin/sh
mkdir -p ${APK_ROOT}/etc/apk ${STANDIN_DIR}
printf '%s\\n' http://dl-cdn.alpinelinux.org/alpine/v3.19/main http://dl-cdn.alpinelinux.org/alpine/v3.19/community >${APK_ROOT}/etc/apk/repositories
echo 3.19.1 >${APK_ROOT}/etc/alpine-release
`;

export const APK_STANDIN_DIR = STANDIN_DIR;
