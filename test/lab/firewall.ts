// nft rulesets mirroring TowerOS's iptables scripts (toweros-as-built §7), one per role, loaded inside
// each namespace. Differences on purpose: default-drop policies (TowerOS relies on trailing rules),
// `table inet` so IPv6 is covered too, and no `recent` port-scan traps (they would ban the thin client
// for 60 s after a test probes a closed port). Chain names avoid nft keywords (lab-facts pitfall 3).
import { INTERNET, ROUTER_IP, networkOf, type HostRole } from './topology.js';

/** TowerOS INPUT base: established, loopback, ping; then the role's TCP allowances; then reject. */
function inputChain(allow: readonly string[]): string {
  return `  chain lab_input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iif "lo" accept
    ct state invalid drop
    icmp type echo-request accept
${allow.map((r) => `    ${r}`).join('\n')}
    meta l4proto tcp reject with tcp reset
    reject
  }`;
}

export function hostRuleset(role: HostRole): string {
  const net = networkOf(role);
  const allow = [`ip saddr ${net.thinClientIp} tcp dport 22 accept`];
  // The router also offers Tor's SOCKS port to the online network on a TowerOS router.
  if (role === 'router') allow.push(`ip saddr ${net.cidr} tcp dport 9050 accept`);

  const output =
    role === 'offline'
      ? `  chain lab_output {
    type filter hook output priority filter; policy drop;
    oif "lo" accept
    ct state established,related accept
  }`
      : `  chain lab_output {
    type filter hook output priority filter; policy accept;
    oif "lo" accept
    ct state established,related accept
    ip daddr ${ROUTER_IP} accept
    ip daddr ${net.cidr} drop
  }`;

  const forward =
    role === 'router'
      ? `  chain lab_forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "eth0" oifname "${INTERNET.routerWanIf}" ip saddr ${net.cidr} accept
  }`
      : `  chain lab_forward {
    type filter hook forward priority filter; policy drop;
  }`;

  const nat =
    role === 'router'
      ? `
table ip tower_nat {
  chain lab_postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${INTERNET.routerWanIf}" masquerade
  }
}
`
      : '';

  return `flush ruleset
table inet tower {
${inputChain(allow)}
${forward}
${output}
}
${nat}`;
}

/** The thin client accepts nothing inbound but replies; it forwards nothing. */
export function thinClientRuleset(): string {
  return `flush ruleset
table inet tower {
${inputChain([])}
  chain lab_forward {
    type filter hook forward priority filter; policy drop;
  }
  chain lab_output {
    type filter hook output priority filter; policy accept;
  }
}
`;
}
