import { join, resolve } from 'node:path';
import { homedir } from 'node:os';

/** Every file towerd reads or writes, derived from the environment once. */
export interface Paths {
  home: string;
  /** ~/.local/tower: TowerOS's state folder, kept compatible */
  towerDir: string;
  /** ~/.local/tower/config: OpenSSH-format host list */
  registry: string;
  /** ~/.local/tower/hosts */
  hostsDir: string;
  sshDir: string;
  sshConfig: string;
  knownHosts: string;
  /** $XDG_CONFIG_HOME/tower/towerd.json */
  settings: string;
}

export function resolvePaths(env: NodeJS.ProcessEnv = process.env): Paths {
  const home = resolve(env.HOME ?? homedir());
  const towerDir = join(home, '.local', 'tower');
  const configHome = env.XDG_CONFIG_HOME ? resolve(env.XDG_CONFIG_HOME) : join(home, '.config');
  return {
    home,
    towerDir,
    registry: join(towerDir, 'config'),
    hostsDir: join(towerDir, 'hosts'),
    sshDir: join(home, '.ssh'),
    sshConfig: join(home, '.ssh', 'config'),
    knownHosts: join(home, '.ssh', 'known_hosts'),
    settings: join(configHome, 'tower', 'towerd.json'),
  };
}

export function hostDir(paths: Paths, name: string): string {
  return join(paths.hostsDir, name);
}

/**
 * The socket towerd listens on and towerctl dials: `$XDG_RUNTIME_DIR/tower/towerd.sock`, or a per-user folder
 * under /tmp when no runtime directory is set (its ownership and mode are checked before use).
 */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TOWER_SOCKET) return resolve(env.TOWER_SOCKET);
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime) return join(resolve(runtime), 'tower', 'towerd.sock');
  const uid = process.getuid?.() ?? 0;
  return join('/tmp', `tower-${uid}`, 'towerd.sock');
}

/** Expand a leading `~/` the way ssh does for IdentityFile. */
export function expandTilde(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return p;
}
