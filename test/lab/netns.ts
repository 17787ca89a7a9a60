// Network plumbing: named namespaces, per-namespace sysctls and firewall, veth links and addresses.
// Every command runs with `ip -n NS` or `nsenter --net`, so no interface, route or rule is ever created
// in the machine's own network namespace.
import { runOk } from './exec.js';
import { INTERNET, OFFLINE_NET, ONLINE_NET, ROUTER_IP, networkOf, type HostRole } from './topology.js';

export const netnsPath = (netns: string): string => `/run/netns/${netns}`;

/** `ip [-n NS] -batch -`: one process for many commands. */
export async function ipBatch(netns: string | undefined, lines: readonly string[], context: string): Promise<void> {
  if (lines.length === 0) return;
  const argv = netns ? ['ip', '-n', netns, '-batch', '-'] : ['ip', '-batch', '-'];
  await runOk(argv, { input: `${lines.join('\n')}\n`, context, timeoutMs: 30_000 });
}

export async function listNetns(): Promise<string[]> {
  const { stdout } = await runOk(['ip', 'netns', 'list'], { context: 'listing network namespaces' });
  // Lines look like "name" or "name (id: 3)".
  return stdout.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
}

export async function addNetns(names: readonly string[]): Promise<void> {
  await ipBatch(undefined, names.map((n) => `netns add ${n}`), 'creating network namespaces');
}

export async function deleteNetns(names: readonly string[]): Promise<void> {
  await ipBatch(undefined, names.map((n) => `netns del ${n}`), 'deleting network namespaces');
}

export interface KernelSetup {
  /** Router: forward between LAN and WAN. */
  forwarding?: boolean;
  /** Switch: a fresh netns has bridge-nf-call-* = 1, which would push bridged frames through its netfilter (pitfall 2). */
  bridgeNetfilterOff?: boolean;
  /** nft ruleset to load (replaces any existing one). */
  ruleset?: string;
}

/**
 * Sysctls and firewall of one namespace in a single process. /proc/sys/net reflects the writer's network
 * namespace, so entering only the netns is enough. IPv6 is switched off before any link is added so that
 * no link-local path exists beside the IPv4 rules.
 */
export async function configureKernel(netns: string, setup: KernelSetup): Promise<void> {
  const lines = [
    'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6',
    'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6',
  ];
  if (setup.forwarding) lines.push('echo 1 > /proc/sys/net/ipv4/ip_forward');
  if (setup.bridgeNetfilterOff) {
    for (const f of ['iptables', 'ip6tables', 'arptables']) {
      const path = `/proc/sys/net/bridge/bridge-nf-call-${f}`;
      lines.push(`if [ -e ${path} ]; then echo 0 > ${path}; fi`);
    }
  }
  if (setup.ruleset) lines.push('exec nft -f -');
  await runOk(['nsenter', `--net=${netnsPath(netns)}`, '--', 'sh', '-ec', lines.join('\n')], {
    input: setup.ruleset ?? '',
    context: `configuring sysctls/firewall in ${netns}`,
  });
}

/** Switch namespace: one bridge per Tower network, with STP off so a (re)attached port forwards at once. */
export function bridgeCommands(): string[] {
  return [ONLINE_NET, OFFLINE_NET].flatMap((n) => [
    `link add ${n.bridge} type bridge stp_state 0 forward_delay 0`,
    `link set ${n.bridge} up`,
  ]);
}

/** A veth from the switch to another namespace; the switch end is the bridge port, named `port`. */
export function portCommands(port: string, bridge: string, peerNetns: string, peerIf: string): string[] {
  return [
    `link add ${port} type veth peer name ${peerIf} netns ${peerNetns}`,
    `link set ${port} master ${bridge}`,
    `link set ${port} up`,
  ];
}

export function thinClientPortCommands(tcNetns: string): string[] {
  return [ONLINE_NET, OFFLINE_NET].flatMap((n) => portCommands(n.tcPort, n.bridge, tcNetns, n.tcIf));
}

export function thinClientAddressCommands(): string[] {
  return [
    'link set lo up',
    ...[ONLINE_NET, OFFLINE_NET].flatMap((n) => [`addr add ${n.thinClientIp}/24 dev ${n.tcIf}`, `link set ${n.tcIf} up`]),
  ];
}

/** Addresses and routes inside a host. Online hosts route via the router (if the lab has one); offline hosts get no gateway. */
export function hostAddressCommands(role: HostRole, ip: string, hasRouter: boolean): string[] {
  const lines = ['link set lo up', `addr add ${ip}/24 dev eth0`, 'link set eth0 up'];
  if (role === 'router') {
    lines.push(
      `addr add ${INTERNET.routerWanIp}/${INTERNET.prefixLen} dev ${INTERNET.routerWanIf}`,
      `link set ${INTERNET.routerWanIf} up`,
      // Anything beyond the lab's networks goes "upstream", i.e. to the internet namespace, which has no way out.
      `route add default via ${INTERNET.internetIp}`,
    );
  } else if (role === 'online' && hasRouter) {
    lines.push(`route add default via ${ROUTER_IP}`);
  }
  return lines;
}

/** The internet's only link is the router's WAN veth, so it is addressed when the router is plugged in. */
export function internetAddressCommands(): string[] {
  return [`addr add ${INTERNET.internetIp}/${INTERNET.prefixLen} dev eth0`, 'link set eth0 up'];
}

/** The router's WAN veth into the internet namespace (not through the switch: it is the router's "uplink"). */
export function routerWanCommands(internetNetns: string): string[] {
  return [`link add ${INTERNET.routerWanIf} type veth peer name eth0 netns ${internetNetns}`];
}

export function bridgeOf(role: HostRole): string {
  return networkOf(role).bridge;
}
