import type { PackageAction } from '../../../protocol/packages.js';

export interface ApkCommand {
  /** prefix that makes apk run as root: TowerOS hosts link doas as `sudo` */
  privilege: string[];
  /** apk and any fixed options (`['apk']` on a real host) */
  apk: string[];
}

/**
 * The argv run on the host for one package action. The relay reaches apk through the standard proxy variables for
 * this one command: `env` sets them after the privilege prefix (doas and sudo both drop the caller's environment),
 * and nothing on the host is changed to make it work.
 */
export function apkArgv(cmd: ApkCommand, action: PackageAction, packages: string[], opts: { proxyUrl?: string | undefined; progress: boolean }): string[] {
  const env = opts.proxyUrl ? ['env', `http_proxy=${opts.proxyUrl}`, `https_proxy=${opts.proxyUrl}`] : [];
  const verb = action === 'upgrade' ? ['upgrade', ...(packages.length ? packages : [])] : [action, ...packages];
  // `apk upgrade` refreshes its indexes itself; `--progress` draws apk's own bar on the terminal
  return [...cmd.privilege, ...env, ...cmd.apk, ...(opts.progress ? ['--progress'] : []), ...verb];
}

/** What a run on the host reports, as far as telling a missing command apart goes. */
export interface RunOutcome {
  code: number | null;
  stderr: string;
}

/**
 * The check run before apk: `command -v` of the privilege command (a builtin of every POSIX shell, so it needs
 * nothing on the host). undefined when apk runs without a prefix.
 */
export function privilegeProbe(cmd: Pick<ApkCommand, 'privilege'>): string[] | undefined {
  const name = cmd.privilege[0];
  return name === undefined ? undefined : ['command', '-v', name];
}

/**
 * Did the privilege command itself not start? Status 127 with the shell's "not found" for that name (dash, ash,
 * bash and zsh word it differently; a path that does not exist is "No such file or directory"); the name must be the one not found, so that `sudo: apk: command not found`
 * (apk missing) is not mistaken for it.
 */
export function privilegeMissing(cmd: Pick<ApkCommand, 'privilege'>, r: RunOutcome): boolean {
  const name = cmd.privilege[0];
  if (name === undefined || r.code !== 127) return false;
  const n = name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return new RegExp(`(^|[\\s:])${n}: ((command )?not found|No such file or directory)|not found: ${n}($|\\s)`, 'm').test(r.stderr);
}

/** What to tell the user when the host has no privilege command: which host, which command, what to set. */
export function privilegeMissingMessage(host: string, cmd: Pick<ApkCommand, 'privilege'>): string {
  const name = cmd.privilege[0] ?? '';
  return (
    `${host} has no ${name}, the command apk runs under to be root there (packages.privilege in towerd.json is ` +
    `${JSON.stringify(cmd.privilege)}). Set packages.privilege to the one the host has: TowerOS hosts have doas ` +
    `("packages": {"privilege": ["doas"]}); [] runs apk as the login user itself. Or install ${name} on ${host}.`
  );
}
