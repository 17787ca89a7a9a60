// How the lab reaches into a host: the init's pid plus nsenter, and where the host sees its boot directory.

/** Where a host sees its boot directory (TowerOS's boot media: host keys, authorized key; plus sshd's log and pid). */
export const BOOT_MOUNT = '/run/lab';

/** $0 of every init is `${INIT_MARKER}<prefix>:<host>`; teardown finds orphaned inits by it even when their
 *  netns name is already gone. */
export const INIT_MARKER = 'tower-lab-init:';
export const initTag = (prefix: string, host: string): string => `${INIT_MARKER}${prefix}:${host}`;

/** argv that runs `argv` inside the host whose init has root-namespace pid `initPid`. */
export function enterArgv(initPid: number, argv: readonly string[]): string[] {
  // -r/-w: take the init's root and cwd, so paths resolve in the host's mount namespace.
  return ['nsenter', '-t', String(initPid), '-n', '-m', '-p', '-u', '-r', '-w', '--', ...argv];
}
