// Bring-up in phases. Each phase does one kind of work for all hosts at once (batched `ip` commands,
// bounded-concurrency key generation and boots), which is what keeps a 50-host lab quick.
import { join } from 'node:path';
import { CONCURRENCY, mapLimit } from './exec.js';
import { thinClientRuleset, hostRuleset } from './firewall.js';
import { startHostInit, writeBootDir } from './hostInit.js';
import {
  addNetns,
  bridgeCommands,
  bridgeOf,
  configureKernel,
  hostAddressCommands,
  internetAddressCommands,
  ipBatch,
  portCommands,
  routerWanCommands,
  thinClientAddressCommands,
  thinClientPortCommands,
} from './netns.js';
import { startSshd } from './sshd.js';
import { netnsName, type HostPlan } from './topology.js';
import { provisionHostDir, type HostKeys } from './towerHome.js';
import type { HostState, LabState } from './types.js';
import type { LabUser } from './user.js';
import { enterArgv } from './enter.js';
import { runOk } from './exec.js';
import { ALPINE_DIR, APK_ROOT, writeAlpineBoot } from './profile.js';
import { copyStandin, standinInstallArgv } from './alpine/install.js';

export interface BuildContext {
  state: LabState;
  user: LabUser;
  signal?: AbortSignal;
}

/** Switch, thin client and internet namespaces, wired and addressed. */
export async function buildInfrastructure(ctx: BuildContext): Promise<void> {
  const { switchNetns: sw, tcNetns: tc, internetNetns: inet } = ctx.state;
  await addNetns([sw, tc, inet]);
  await Promise.all([
    configureKernel(sw, { bridgeNetfilterOff: true }),
    configureKernel(tc, { ruleset: thinClientRuleset() }),
    configureKernel(inet, {}),
  ]);
  ctx.signal?.throwIfAborted();
  await ipBatch(sw, [...bridgeCommands(), ...thinClientPortCommands(tc)], 'wiring the switch');
  await Promise.all([
    ipBatch(tc, thinClientAddressCommands(), 'addressing the thin client'),
    ipBatch(inet, ['link set lo up'], 'starting loopback in the internet namespace'),
  ]);
}

export interface ProvisionedHost extends HostPlan {
  netns: string;
  keys: HostKeys;
}

/** Thin-client side of `tower provision`: keys and tower.env for each host, before any host exists. */
export async function provisionHosts(ctx: BuildContext, plans: readonly HostPlan[]): Promise<ProvisionedHost[]> {
  const { state, user } = ctx;
  return mapLimit(plans, CONCURRENCY, async (p) => ({
    ...p,
    netns: netnsName(state.prefix, p.name),
    keys: await provisionHostDir(state.home, p, user.name),
  }));
}

/** Host side: namespaces, firewall, links, addresses, then each host's init and sshd. */
export async function bootHosts(ctx: BuildContext, hosts: readonly ProvisionedHost[]): Promise<HostState[]> {
  const { state, user, signal } = ctx;
  signal?.throwIfAborted();
  await addNetns(hosts.map((h) => h.netns));
  await mapLimit(hosts, CONCURRENCY, (h) =>
    configureKernel(h.netns, { forwarding: h.role === 'router', ruleset: hostRuleset(h.role) }),
  );
  signal?.throwIfAborted();

  // Host names are the switch's port names, so `ip -n <sw> link` reads like a patch panel.
  await ipBatch(state.switchNetns, hosts.flatMap((h) => portCommands(h.name, bridgeOf(h.role), h.netns, 'eth0')), 'plugging hosts into the switch');
  const router = hosts.find((h) => h.role === 'router');
  if (router) {
    await ipBatch(router.netns, routerWanCommands(state.internetNetns), 'linking the router to the internet');
    await ipBatch(state.internetNetns, internetAddressCommands(), 'addressing the internet namespace');
  }
  await mapLimit(hosts, CONCURRENCY, (h) =>
    ipBatch(h.netns, hostAddressCommands(h.role, h.ip, state.hasRouter), `addressing ${h.name}`),
  );
  signal?.throwIfAborted();

  return mapLimit(hosts, CONCURRENCY, async (h) => {
    signal?.throwIfAborted();
    const bootDir = join(state.workDir, 'hosts', h.name);
    const profile = state.profile ?? 'debian';
    await writeBootDir(bootDir, { name: h.name, ip: h.ip, hostKeyFile: h.keys.hostKeyFile, publicKey: h.keys.publicKey }, user.name, profile);
    if (profile === 'alpine') await writeAlpineBoot(bootDir, user);
    const initPid = await startHostInit({ name: h.name, netns: h.netns, bootDir }, state.prefix, user, profile);
    if (profile === 'alpine') await setUpApk(h.name, initPid, bootDir, state.hostPackages ?? []);
    const sshdPid = await startSshd({ name: h.name, initPid, bootDir });
    const host: HostState = {
      name: h.name,
      role: h.role,
      ip: h.ip,
      netns: h.netns,
      user: user.name,
      hostKeyPub: h.keys.hostKeyPub,
      identityFile: h.keys.identityFile,
      sshdPid,
      color: h.color,
      bootDir,
      initPid,
      cut: null,
    };
    return host;
  });
}

/** apk on an Alpine-like host (the stand-in, root APK_ROOT) and the packages it installs at boot. */
async function setUpApk(name: string, initPid: number, bootDir: string, packages: readonly string[]): Promise<void> {
  const standin = copyStandin(bootDir);
  await runOk(enterArgv(initPid, standinInstallArgv(standin, { root: APK_ROOT })), { context: `installing apk on ${name}` });
  // apk's database, as on every Alpine system, plus what Tower's host setup would install (the stock set when
  // none), from the lab's own repository on the boot media (no network needed).
  const repo = `file://${ALPINE_DIR}/repo/v3.19/tower`;
  await runOk(
    enterArgv(initPid, ['/usr/bin/python3', standin, '--root', APK_ROOT, '--repositories-file', '/dev/null', '-X', repo, '--allow-untrusted', '-q', 'add', '--initdb', ...packages]),
    { context: `installing ${packages.join(' ') || "apk's database"} on ${name}`, timeoutMs: 20_000 },
  );
}
