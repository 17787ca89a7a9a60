// Public shapes of the lab API, plus the persisted state that lets a later process (the CLI's
// `down`, `cut`, `status`) act on a lab started by another one.
import type { HostRole } from './topology.js';
import type { HostProfile } from './profile.js';

export interface LabOptions {
  /** Namespace names start with `${prefix}-`. Default 'twl'. */
  prefix?: string;
  /** Online hosts besides the router. Default 1. */
  online?: number;
  /** Default 1. */
  offline?: number;
  /** Default true. */
  router?: boolean;
  /** TowerOS home directory to populate (~/.local/tower, ~/.ssh). */
  home: string;
  /** sshd configs, logs, pid files. Default `${home}/.tower-lab`. */
  workDir?: string;
  /** Login user on every host. Default 'tower'. */
  user?: string;
  /** Aborting tears down whatever was built so far and rejects. */
  signal?: AbortSignal;
  /**
   * By default the lab belongs to the calling process: once that process is gone, the lab counts as stale and
   * labDownStale() (the integration tests' global setup) removes it. A persistent lab (CLI `up`) stays until
   * `down` / labDownPrefix().
   */
  persistent?: boolean;
  /** 'alpine' (busybox, doas, apk; README "Host profiles") or 'debian'. Default: $TOWER_LAB_PROFILE, else 'alpine'. */
  profile?: HostProfile;
  /**
   * Alpine profile: packages apk installs on every host at boot, from the lab's own repository of Tower's host
   * packages (alpine/hostPackages.ts). Default: all of them, as if Tower's host setup had run; `[]` leaves each host
   * with TowerOS's stock set only.
   */
  hostPackages?: string[];
}

export interface LabHost {
  name: string;
  role: HostRole;
  ip: string;
  netns: string;
  user: string;
  /** `ssh-ed25519 AAAA…` (no comment), as pinned in known_hosts. */
  hostKeyPub: string;
  identityFile: string;
  /** sshd's pid in the machine's PID namespace; updated in place by startSshd, 0 while stopped. */
  sshdPid: number;
}

export interface ExecOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
}

export interface HostExecOptions extends ExecOptions {
  /** Run as this user (through runuser) instead of root. */
  user?: string;
}

export interface ExecResult {
  /** Exit code; 128+n when killed by signal n; 124 on timeout (like coreutils `timeout`). */
  code: number;
  stdout: string;
  stderr: string;
}

/** How `cut` unplugs a host: 'unplug' detaches its bridge port (silent black hole, link stays up on the host);
 *  'carrier' sets the port down so the host sees NO-CARRIER. */
export type CutMode = 'unplug' | 'carrier';

export interface Lab {
  prefix: string;
  home: string;
  workDir: string;
  tcNetns: string;
  internetIp: string;
  internetNetns: string;
  hosts: LabHost[];
  /** Run argv inside the thin-client namespace (HOME=lab.home unless overridden). */
  execTc(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Prefix for spawning a long-running process in the thin-client namespace. */
  tcSpawnPrefix(): string[];
  /** Prefix for spawning a process in the internet namespace (e.g. the package repository's HTTP server). */
  internetSpawnPrefix(): string[];
  /** Run argv inside a host's namespaces (net, mount, pid, uts), as root unless opts.user is set. */
  execHost(name: string, argv: string[], opts?: HostExecOptions): Promise<ExecResult>;
  cut(name: string, mode?: CutMode): Promise<void>;
  restore(name: string): Promise<void>;
  /** Stops the sshd listener only; open sessions keep running (use crash() for a power-off). */
  stopSshd(name: string): Promise<void>;
  startSshd(name: string): Promise<void>;
  /** Kill every process on the host (sshd, sessions, apps): its kernel answers FIN/RST like a crashed box.
   *  Network, files and the host's namespaces stay; startSshd() "boots" it again. */
  crash(name: string): Promise<void>;
  addHost(opts: { name: string; role: 'online' | 'offline' }): Promise<LabHost>;
  host(name: string): LabHost;
  down(): Promise<void>;
}

/** Everything about one host that a later process needs. */
export interface HostState extends LabHost {
  color: number;
  /** Per-host "boot media" directory (sshd_config, host key, logs), seen as /run/lab inside the host. */
  bootDir: string;
  /** Root-namespace pid of the host's PID-namespace init. */
  initPid: number;
  cut: CutMode | null;
}

/** A process identified beyond its pid (pids get reused): start time in clock ticks since boot. */
export interface ProcessIdentity {
  pid: number;
  startTicks: number;
}

export interface LabState {
  version: 1;
  prefix: string;
  /** The process the lab belongs to; null for a persistent lab. */
  owner: ProcessIdentity | null;
  home: string;
  workDir: string;
  user: string;
  uid: number;
  gid: number;
  userHome: string;
  switchNetns: string;
  tcNetns: string;
  internetNetns: string;
  internetIp: string;
  hasRouter: boolean;
  /** Absent in state files of older labs: 'debian'. */
  profile?: HostProfile;
  hostPackages?: string[];
  hosts: HostState[];
}
