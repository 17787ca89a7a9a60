import type { PackageAction } from '../../protocol/packages.js';

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
