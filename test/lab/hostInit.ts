// One long-lived init per host, in the host's network namespace plus its own PID, mount and UTS
// namespaces (lab-facts pitfalls 4–5). Everything else on the host is started with nsenter into
// this init, so it sees only its own processes, its own /tmp, /run, home and /etc/hosts.
import { spawn } from 'node:child_process';
import { copyFile, chmod, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baseEnv, waitFor } from './exec.js';
import { netnsPath } from './netns.js';
import { childrenOf, innerPid } from './proc.js';
import { sshdConfig } from './sshd.js';
import type { LabUser } from './user.js';
import { BOOT_MOUNT, initTag } from './enter.js';
import { ALPINE_INIT, type HostProfile } from './profile.js';

/** The lab's `date` (date-standin.py): `date -s` moves the host's faked clock, never the machine's. */
export const DATE_STANDIN = fileURLToPath(new URL('./date-standin.py', import.meta.url));

/** Writes the host's boot directory from the thin client's material (what `tower provision` burns to the boot device). */
export async function writeBootDir(
  bootDir: string,
  host: { name: string; ip: string; hostKeyFile: string; publicKey: string },
  user: string,
  profile: HostProfile = 'debian',
): Promise<void> {
  // 0711: the login user must reach authorized_keys (sshd reads it with the user's uid) but not list the dir.
  await mkdir(bootDir, { recursive: true, mode: 0o711 });
  await chmod(bootDir, 0o711);
  await Promise.all(['sshd.pid', 'init.ready'].map((f) => rm(join(bootDir, f), { force: true })));
  await copyFile(host.hostKeyFile, join(bootDir, 'ssh_host_ed25519_key'));
  await chmod(join(bootDir, 'ssh_host_ed25519_key'), 0o600);
  await copyFile(`${host.hostKeyFile}.pub`, join(bootDir, 'ssh_host_ed25519_key.pub'));
  await writeFile(join(bootDir, 'authorized_keys'), `${host.publicKey}\n`, { mode: 0o644 });
  await copyFile(DATE_STANDIN, join(bootDir, 'date'));
  await chmod(join(bootDir, 'date'), 0o755);
  await writeFile(join(bootDir, 'sshd_config'), sshdConfig(host.ip, user, profile), { mode: 0o644 });
  await writeFile(join(bootDir, 'hosts'), `127.0.0.1\tlocalhost\n127.0.1.1\t${host.name}\n`, { mode: 0o644 });
  // No nameserver: resolving must not send queries toward the machine's real resolver.
  await writeFile(join(bootDir, 'resolv.conf'), '# Tower lab: no DNS\n', { mode: 0o644 });
}

// Runs as PID 1 of the host. `cd "$1"` first: with --no-canonicalize, a bind source of "." is resolved by the
// kernel through the cwd, so the boot dir stays reachable even when its path (under /run or /tmp) is covered
// by the host's private mounts. bash reaps orphans re-parented to it while it waits, so no zombies pile up.
const INIT_SCRIPT = `set -eu
cd "$1"
mount -t tmpfs -o mode=0755,size=64m lab-run /run
mkdir -p ${BOOT_MOUNT} /run/sshd /run/lock
mount --no-canonicalize --bind . ${BOOT_MOUNT}
mount --no-canonicalize --bind ./hosts /etc/hosts
mount --no-canonicalize --bind ./resolv.conf /etc/resolv.conf
# the host's date: hosts share the machine's kernel clock, so date -s must not reach it (date-standin.py)
mount --no-canonicalize --bind ./date /usr/bin/date
if [ "$6" = alpine ]; then
${ALPINE_INIT}fi
mount -t tmpfs -o mode=1777 lab-tmp /tmp
mount -t tmpfs -o mode=1777 lab-vartmp /var/tmp
mount -t tmpfs -o mode=1777 lab-shm /dev/shm
mount -t tmpfs -o "mode=0700,uid=$4,gid=$5" lab-home "$3"
mount -t sysfs lab-sys /sys
hostname "$2"
cd /
echo ready > ${BOOT_MOUNT}/init.ready
trap 'exit 0' TERM
while :; do sleep 3600 & wait $! || :; done
`;

async function initLogTail(bootDir: string): Promise<string> {
  try {
    return (await readFile(join(bootDir, 'init.log'), 'utf8')).trim().split('\n').slice(-5).join('\n');
  } catch (err) {
    return `(no init.log: ${(err as Error).message})`;
  }
}

/** Starts the host's init and resolves with its root-namespace pid once its mounts are in place. */
export async function startHostInit(
  host: { name: string; netns: string; bootDir: string },
  prefix: string,
  user: LabUser,
  profile: HostProfile = 'debian',
): Promise<number> {
  const log = await open(join(host.bootDir, 'init.log'), 'w');
  const argv = [
    'nsenter', `--net=${netnsPath(host.netns)}`, '--',
    // --kill-child: if unshare dies, the init dies, and with it every process of the host's PID namespace.
    'unshare', '--pid', '--mount', '--uts', '--fork', '--kill-child=KILL', '--mount-proc', '--propagation', 'private', '--',
    'bash', '-c', INIT_SCRIPT, initTag(prefix, host.name),
    host.bootDir, host.name, user.home, String(user.uid), String(user.gid), profile,
  ];
  let exited: string | undefined;
  try {
    // detached: the lab outlives the process that started it (CLI `up`) and ignores its terminal's Ctrl-C.
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log.fd, log.fd], env: baseEnv('/root') });
    child.on('exit', (code, signal) => (exited = `exited with ${code ?? signal}`));
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(new Error(`${host.name}: cannot start init: ${err.message}`)));
    });
    child.unref();
    const unsharePid = child.pid!;
    await waitFor(
      `init of ${host.name}`,
      async () => {
        if (exited) throw new Error(`${host.name}: init ${exited}\n${await initLogTail(host.bootDir)}`);
        try {
          await readFile(join(host.bootDir, 'init.ready'));
          return true;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw err;
        }
      },
      { timeoutMs: 10_000, intervalMs: 10 },
    );
    const [initPid] = await childrenOf(unsharePid);
    if (initPid === undefined || (await innerPid(initPid)) !== 1) {
      throw new Error(`${host.name}: unshare ${unsharePid} has no PID-namespace init child`);
    }
    return initPid;
  } finally {
    await log.close();
  }
}
