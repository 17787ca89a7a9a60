// Which addresses a host's audit probes and what it must see there, from the registry and settings alone, so that a
// real installation probes its own thin client, hosts, router and relay host (and a lab only lab addresses).
import type { Role } from '../../../protocol/index.js';
import type { Host } from '../../core/registry/registry.js';
import { networkOf, routerIp } from '../../core/registry/addressing.js';
import type { Settings } from '../../core/settings.js';

/**
 * What a probe must find. `stays`: nothing may leave the host for that address (no answer to the TCP connect and
 * the host's own firewall refusing a UDP datagram). `unanswered`: it may leave (towards the router) but nothing may
 * answer. `answers`: TowerOS lets it through (the internet from an online host); not answering is a warning only.
 * `any`: shown, never judged.
 */
export type Expect = 'stays' | 'unanswered' | 'answers' | 'any';

export interface Probe {
  check: string;
  ip: string;
  port: number;
  expect: Expect;
  /** shown instead of ip:port (the relay host's name) */
  label?: string;
}

/** An allow-listed relay host, with the IPv4 addresses the router resolves it to (null: could not resolve). */
export interface InternetTarget {
  name: string;
  ports: number[];
  addresses: string[] | null;
  /** why addresses is null */
  why?: string;
}

const otherRole = (r: Role): 'online' | 'offline' => (r === 'offline' ? 'online' : 'offline');

/** The first other registered host of a role (registry order), so repeated audits probe the same one. */
function otherHost(hosts: readonly Host[], self: Host, role: 'online' | 'offline'): Host | undefined {
  return hosts.find((h) => h.role === role && h.name !== self.name);
}

/**
 * The probes of one host's audit. TowerOS's firewall (alpine-hosts.md): an offline host sends nothing anywhere; an
 * online host sends to the router and beyond it, never to the thin client or other hosts of its network; the router
 * forwards only what comes from the online network towards its uplink, so nothing on the offline network answers
 * anyone on the online one.
 */
export function probesFor(self: Host, hosts: readonly Host[], settings: Settings, internet: readonly InternetTarget[]): Probe[] {
  const port = settings.ssh.port;
  const role = self.role;
  const own = role === 'offline' ? 'offline' : 'online';
  const judge = (sameNet: boolean, routerSelf: Expect = 'unanswered'): Expect => {
    if (role === 'offline') return 'stays';
    if (role === 'router') return routerSelf;
    return sameNet ? 'stays' : 'unanswered';
  };
  const probes: Probe[] = [
    { check: 'thin client (own network)', ip: networkOf(settings, own).thinClientIp, port, expect: judge(true) },
    { check: 'thin client (other network)', ip: networkOf(settings, otherRole(role)).thinClientIp, port, expect: judge(false) },
  ];
  for (const r of ['online', 'offline'] as const) {
    const h = otherHost(hosts, self, r);
    if (h) probes.push({ check: `${r} host ${h.name}`, ip: h.ip, port, expect: judge(r === own) });
  }
  if (role !== 'router') {
    const router = hosts.find((h) => h.role === 'router');
    probes.push({ check: 'router', ip: router?.ip ?? routerIp(settings), port, expect: role === 'offline' ? 'stays' : 'any' });
  }
  for (const t of internet) {
    for (const ip of t.addresses ?? []) {
      for (const p of t.ports) probes.push({ check: 'internet (relay host)', ip, port: p, label: `${t.name} ${ip}:${p}`, expect: role === 'offline' ? 'stays' : 'answers' });
    }
  }
  return probes;
}
