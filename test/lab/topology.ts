// The lab's address plan and naming rules, as plain data and pure functions.
// Addresses follow TowerOS (toweros-as-built §2.4): router 192.168.2.1, thin client .100 on both
// networks, hosts from .200 upward. The internet subnet exists only inside the lab's namespaces.

export type HostRole = 'router' | 'online' | 'offline';

export interface TowerNetwork {
  readonly key: 'online' | 'offline';
  readonly base: string; // first three octets
  readonly cidr: string;
  readonly thinClientIp: string;
  readonly bridge: string; // bridge in the switch namespace
  readonly tcIf: string; // thin client's interface on this network
  readonly tcPort: string; // the thin client's bridge port in the switch namespace
}

export const ONLINE_NET: TowerNetwork = {
  key: 'online',
  base: '192.168.2',
  cidr: '192.168.2.0/24',
  thinClientIp: '192.168.2.100',
  bridge: 'br-on',
  tcIf: 'eth0',
  tcPort: 'tc-on',
};

export const OFFLINE_NET: TowerNetwork = {
  key: 'offline',
  base: '192.168.3',
  cidr: '192.168.3.0/24',
  thinClientIp: '192.168.3.100',
  bridge: 'br-off',
  tcIf: 'eth1',
  tcPort: 'tc-off',
};

export const ROUTER_IP = '192.168.2.1';

/** The "internet": a namespace linked only to the router's WAN side. 10.90.0.0/24 is used by nothing else here. */
export const INTERNET = {
  cidr: '10.90.0.0/24',
  prefixLen: 24,
  routerWanIp: '10.90.0.1',
  internetIp: '10.90.0.2',
  /** Named like a TowerOS router's upstream interface so the masquerade rule reads the same. */
  routerWanIf: 'wlan0',
} as const;

export const FIRST_HOST_OCTET = 200;
export const LAST_HOST_OCTET = 254;

/** ANSI colours TowerOS assigns to hosts, cycled in creation order. */
export const COLORS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96] as const;

/** Node names used by the lab's own namespaces; hosts cannot take them. */
export const INFRA_NODES = { switch: 'sw', thinClient: 'tc', internet: 'inet' } as const;
const RESERVED_NAMES = new Set<string>([...Object.values(INFRA_NODES), 'thinclient']);

// Host names double as bridge-port names in the switch namespace, so they must fit IFNAMSIZ (15).
const HOST_NAME_RE = /^[a-z][a-z0-9]{0,14}$/;
// Prefix + '-' + name must stay a sane netns name; short prefixes keep `ip netns list` readable.
const PREFIX_RE = /^[a-z][a-z0-9]{0,9}$/;

export function networkOf(role: HostRole): TowerNetwork {
  return role === 'offline' ? OFFLINE_NET : ONLINE_NET;
}

export function netnsName(prefix: string, node: string): string {
  return `${prefix}-${node}`;
}

/** Matches every namespace that belongs to a lab with exactly this prefix (names after the dash never hold a dash). */
export function netnsPattern(prefix: string): RegExp {
  return new RegExp(`^${prefix}-[a-z0-9]+$`);
}

export function validatePrefix(prefix: string): void {
  if (!PREFIX_RE.test(prefix)) {
    throw new Error(`lab prefix '${prefix}' must match ${PREFIX_RE.source} (lowercase, at most 10 characters)`);
  }
}

export function validateHostName(name: string): void {
  if (!HOST_NAME_RE.test(name)) {
    throw new Error(`host name '${name}' must match ${HOST_NAME_RE.source} (it is also an interface name)`);
  }
  if (RESERVED_NAMES.has(name)) throw new Error(`host name '${name}' is reserved by the lab`);
}

export function colorFor(index: number): number {
  return COLORS[index % COLORS.length]!;
}

/** Lowest free address from .200 upward (TowerOS skips by two on collision; sequential keeps 50 hosts in one /24). */
export function nextFreeIp(role: HostRole, taken: ReadonlySet<string>): string {
  if (role === 'router') return ROUTER_IP;
  const net = networkOf(role);
  for (let octet = FIRST_HOST_OCTET; octet <= LAST_HOST_OCTET; octet++) {
    const ip = `${net.base}.${octet}`;
    if (!taken.has(ip)) return ip;
  }
  throw new Error(`no free address left on ${net.cidr} (hosts use .${FIRST_HOST_OCTET}-.${LAST_HOST_OCTET})`);
}

export interface HostPlan {
  name: string;
  role: HostRole;
  ip: string;
  color: number;
}

/** Names and addresses for a fresh lab: router, on1..onN, off1..offM. */
export function planHosts(opts: { router: boolean; online: number; offline: number }): HostPlan[] {
  for (const [key, n] of [['online', opts.online], ['offline', opts.offline]] as const) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`${key} host count must be a non-negative integer, got ${n}`);
  }
  const roles: { name: string; role: HostRole }[] = [];
  if (opts.router) roles.push({ name: 'router', role: 'router' });
  for (let i = 1; i <= opts.online; i++) roles.push({ name: `on${i}`, role: 'online' });
  for (let i = 1; i <= opts.offline; i++) roles.push({ name: `off${i}`, role: 'offline' });
  const taken = new Set<string>();
  return roles.map((r, index) => {
    const ip = nextFreeIp(r.role, taken);
    taken.add(ip);
    return { ...r, ip, color: colorFor(index) };
  });
}

/** TowerOS order for ~/.local/tower/config: router first, then by name (code-point order, like Python's sorted). */
export function towerOrder<T extends { name: string }>(hosts: readonly T[]): T[] {
  return [...hosts].sort((a, b) => {
    if (a.name === 'router') return -1;
    if (b.name === 'router') return 1;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}
