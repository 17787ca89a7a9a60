// Public entry of the Tower lab: a TowerOS topology of real OpenSSH hosts made of Linux namespaces.
// See README.md for the topology, the isolation rules and the CLI.
import { resolve, join } from 'node:path';
import { bootHosts, buildInfrastructure, provisionHosts } from './build.js';
import { cleanUpAfter } from './exec.js';
import { RunningLab } from './runningLab.js';
import { claimStateDir, currentProcess, loadState, saveState, stateDir } from './state.js';
import { labDownPrefix, labIsStale, labPresent } from './teardown.js';
import { INFRA_NODES, INTERNET, netnsName, planHosts, validatePrefix } from './topology.js';
import { pinKnownHosts, writeSshConfig, writeTowerConfig } from './towerHome.js';
import type { Lab, LabOptions, LabState } from './types.js';
import { ensureLabUser } from './user.js';
import { defaultProfile } from './profile.js';
import { TOWER_HOST_PACKAGE_NAMES } from './alpine/hostPackages.js';

export type { CutMode, ExecOptions, ExecResult, HostExecOptions, HostState, Lab, LabHost, LabOptions, LabState } from './types.js';
export { RunningLab, sshdLogPath } from './runningLab.js';
export { labDownPrefix, labDownStale } from './teardown.js';
export { INTERNET, OFFLINE_NET, ONLINE_NET, ROUTER_IP } from './topology.js';
export { stateDir } from './state.js';
export { ALPINE_PATH, APK_ROOT, defaultProfile, type HostProfile } from './profile.js';
export { TOWER_HOST_PACKAGE_NAMES, TOWER_HOST_PACKAGES } from './alpine/hostPackages.js';

export const DEFAULT_PREFIX = 'twl';

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('the Tower lab needs root (network, PID and mount namespaces, useradd)');
}

/** Brings up a lab and writes its TowerOS home. On any failure (or abort) everything built so far is removed. */
export async function labUp(opts: LabOptions): Promise<RunningLab> {
  requireRoot();
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  validatePrefix(prefix);
  const home = resolve(opts.home);
  const plans = planHosts({ router: opts.router ?? true, online: opts.online ?? 1, offline: opts.offline ?? 1 });
  if (await labPresent(prefix)) {
    if (!(await labIsStale(prefix))) {
      throw new Error(`a lab with prefix '${prefix}' is up and in use; run \`down --prefix ${prefix}\` first or pick another prefix`);
    }
    // Leftovers of a crashed run with this prefix: nobody owns them any more.
    await labDownPrefix(prefix);
  }
  // Atomic claim: a concurrent labUp with the same prefix fails here instead of racing (and later tearing down) ours.
  if (!(await claimStateDir(prefix))) throw new Error(`another process is bringing up a lab with prefix '${prefix}'`);

  try {
    const user = await ensureLabUser(opts.user ?? 'tower');
    const state: LabState = {
      version: 1,
      prefix,
      owner: opts.persistent ? null : await currentProcess(),
      home,
      workDir: resolve(opts.workDir ?? join(home, '.tower-lab')),
      user: user.name,
      uid: user.uid,
      gid: user.gid,
      userHome: user.home,
      switchNetns: netnsName(prefix, INFRA_NODES.switch),
      tcNetns: netnsName(prefix, INFRA_NODES.thinClient),
      internetNetns: netnsName(prefix, INFRA_NODES.internet),
      internetIp: INTERNET.internetIp,
      hasRouter: plans.some((p) => p.role === 'router'),
      profile: opts.profile ?? defaultProfile(),
      hostPackages: [...(opts.hostPackages ?? TOWER_HOST_PACKAGE_NAMES)],
      hosts: [],
    };
    // Saved before anything exists, so that cleanup of stale labs can tell whose half-built lab this is.
    await saveState(state);
    const ctx = { state, user, signal: opts.signal };
    // As TowerOS: keys, config and pinned known_hosts exist before any host boots.
    const provisioned = await provisionHosts(ctx, plans);
    await writeTowerConfig(home, provisioned, user.name);
    await writeSshConfig(home);
    await pinKnownHosts(home, provisioned.map((h) => ({ ip: h.ip, hostKeyPub: h.keys.hostKeyPub })));
    await buildInfrastructure(ctx);
    state.hosts = await bootHosts(ctx, provisioned);
    await saveState(state);
    return new RunningLab(state);
  } catch (err) {
    return cleanUpAfter(err, `bringing up lab '${prefix}'`, () => labDownPrefix(prefix));
  }
}

/** A handle on a lab started by another process (e.g. `cli.ts up`), from its state file. */
export async function attachLab(prefix: string = DEFAULT_PREFIX): Promise<RunningLab> {
  validatePrefix(prefix);
  return new RunningLab(await loadState(prefix));
}

/** Where a lab's state file lives (for messages). */
export function labStatePath(prefix: string): string {
  return join(stateDir(prefix), 'state.json');
}

// Compile-time check that the handle satisfies the published interface.
const _typecheck: (l: RunningLab) => Lab = (l) => l;
void _typecheck;
