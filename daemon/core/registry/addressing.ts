import type { Role } from '../../../protocol/index.js';
import type { Settings } from '../settings.js';

/** The static address plan: router at .1 of the online network, other hosts contiguous from .200. */
export class NetworkFullError extends Error {}

export interface NetworkPlan {
  network: string;
  prefix: string;
  thinClientIp: string;
}

export function networkOf(settings: Settings, role: Role): NetworkPlan {
  const cidr = role === 'offline' ? settings.networks.offline : settings.networks.online;
  const prefix = cidr.slice(0, cidr.lastIndexOf('.'));
  return { network: cidr, prefix, thinClientIp: `${prefix}.${settings.thinClientOctet}` };
}

export function routerIp(settings: Settings): string {
  return `${networkOf(settings, 'router').prefix}.1`;
}

/** Which configured network an address is on, or null. */
export function networkOfIp(settings: Settings, ip: string): { role: 'online' | 'offline'; network: string } | null {
  const prefix = ip.slice(0, ip.lastIndexOf('.'));
  for (const role of ['online', 'offline'] as const) {
    const plan = networkOf(settings, role);
    if (plan.prefix === prefix) return { role, network: plan.network };
  }
  return null;
}

/** The lowest free address for a new host of this role; the router always gets .1. */
export function allocateIp(settings: Settings, role: Role, used: ReadonlySet<string>): string {
  const plan = networkOf(settings, role);
  if (role === 'router') {
    const ip = `${plan.prefix}.1`;
    if (used.has(ip)) throw new NetworkFullError(`the router address ${ip} is already taken`);
    return ip;
  }
  for (let o = settings.firstHostOctet; o <= settings.lastHostOctet; o++) {
    const ip = `${plan.prefix}.${o}`;
    if (!used.has(ip)) return ip;
  }
  throw new NetworkFullError(
    `the ${role} network ${plan.network} is full: all ${settings.lastHostOctet - settings.firstHostOctet + 1} host addresses ` +
      `(.${settings.firstHostOctet}–.${settings.lastHostOctet}) are taken; remove a host or widen the range in towerd.json`,
  );
}

/** Check an explicitly requested address against the plan. Returns an error message or null. */
export function checkRequestedIp(settings: Settings, role: Role, ip: string, used: ReadonlySet<string>): string | null {
  const plan = networkOf(settings, role);
  if (!ip.startsWith(plan.prefix + '.')) return `${ip} is not on the ${role} network ${plan.network}`;
  const octet = Number(ip.slice(plan.prefix.length + 1));
  if (role === 'router' && octet !== 1) return `the router's address is fixed at ${plan.prefix}.1`;
  if (role !== 'router' && (octet < settings.firstHostOctet || octet > settings.lastHostOctet))
    return `host addresses are .${settings.firstHostOctet}–.${settings.lastHostOctet} of ${plan.network}`;
  if (used.has(ip)) return `${ip} is already used by another host`;
  return null;
}
