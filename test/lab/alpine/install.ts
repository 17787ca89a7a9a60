// Puts the apk stand-in on a lab host's PATH, so commands written for a real TowerOS host (`apk add …`,
// `ssh HOST apk …`) run unchanged. Only that host's mount namespace changes: /usr/local/bin becomes a
// read-only overlay of a host-private directory holding an `apk` symlink over the machine's own
// /usr/local/bin (so nothing there is hidden; /usr/local/bin is on the PATH of root, of ssh sessions and of
// sudo), and /run/apk-standin/root names the default root. Without --root, the stand-in then installs
// there instead of into the machine's shared / (which it refuses anyway on a non-Alpine system).
import { chmodSync, cpSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../lab.js';

/** Absolute path of the stand-in executable in this checkout. */
export const APK_STANDIN = fileURLToPath(new URL('./apk', import.meta.url));

/**
 * The stand-in's path inside a host. Hosts have a private /tmp, so a checkout under /tmp (a CI clone, say) is
 * invisible to them; the host's boot folder (seen as /run/lab inside) is not: copy the stand-in there.
 */
export function standinOnHost(lab: { host(name: string): { bootDir: string } }, host: string): string {
  return copyStandin(lab.host(host).bootDir);
}

/** Copies the stand-in onto a host's boot media (given its boot dir) and returns its path inside the host. */
export function copyStandin(boot: string): string {
  const dest = join(boot, 'apk-standin');
  cpSync(APK_STANDIN, join(dest, 'apk'));
  cpSync(join(dirname(APK_STANDIN), 'standin'), join(dest, 'standin'), { recursive: true, filter: (src) => !src.includes('__pycache__') });
  // the login user runs it too
  chmodSync(boot, 0o755);
  chmodSync(dest, 0o755);
  return '/run/lab/apk-standin/apk';
}

const DIR = '/run/apk-standin';

export interface StandinOptions {
  /** Default root for `apk` without --root, e.g. /var/tmp/alpine (host-private tmpfs). */
  root: string;
  /** Make the root (created if missing) belong to this user, so its ssh sessions can run apk without sudo. */
  owner?: string;
}

/** `sh -c` script and its arguments that install the stand-in inside a host (run as root in the host). */
export function standinInstallArgv(standinPath: string, opts: StandinOptions): string[] {
  if (!opts.root.startsWith('/') || opts.root === '/') throw new Error(`installApkStandin: root must be an absolute path other than /, got '${opts.root}'`);
  if (opts.owner !== undefined && !/^[a-z_][a-z0-9_-]*$/.test(opts.owner)) throw new Error(`installApkStandin: bad owner '${opts.owner}'`);
  const script = [
    'set -e',
    `mkdir -p ${DIR}/bin "$2"`,
    `ln -sfn "$1" ${DIR}/bin/apk`,
    `printf '%s\\n' "$2" > ${DIR}/root`,
    '[ -z "$3" ] || chown "$3:" "$2"',
    // Two lower layers and no upper one: a read-only union, nothing written to the machine's directory.
    `grep -q ' /usr/local/bin overlay ' /proc/self/mounts || mount -t overlay apk-standin -o lowerdir=${DIR}/bin:/usr/local/bin /usr/local/bin`,
  ].join('\n');
  return ['sh', '-c', script, 'sh', standinPath, opts.root, opts.owner ?? ''];
}

export async function installApkStandin(lab: Pick<Lab, 'execHost'> & { host(name: string): { bootDir: string } }, host: string, opts: StandinOptions): Promise<void> {
  const r = await lab.execHost(host, standinInstallArgv(standinOnHost(lab, host), opts), { timeoutMs: 5000 });
  if (r.code !== 0) throw new Error(`cannot install the apk stand-in on ${host}: ${r.stderr.trim()}`);
}
