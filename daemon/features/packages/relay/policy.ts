/**
 * Which upstreams the package relay may reach: exact host names (no wildcards: a repository mirror is one name)
 * and their ports. Anything else is refused and counted.
 */
export interface RelayRule {
  host: string;
  ports: number[];
}

export type Verdict = { ok: true } | { ok: false; reason: string };

export function checkUpstream(rules: readonly RelayRule[], host: string, port: number): Verdict {
  const h = host.toLowerCase().replace(/\.$/, '');
  const rule = rules.find((r) => r.host.toLowerCase() === h);
  if (!rule) return { ok: false, reason: `${host} is not an allowed repository host` };
  if (!rule.ports.includes(port)) return { ok: false, reason: `port ${port} is not allowed for ${host} (allowed: ${rule.ports.join(', ')})` };
  return { ok: true };
}

/**
 * CONNECT opens a byte tunnel, so it has its own, shorter port list (443 by default): a tunnel to a plain-HTTP
 * port would carry any method, Host and body past the GET-only checks.
 */
export function checkConnect(rules: readonly RelayRule[], connectPorts: readonly number[], host: string, port: number): Verdict {
  const v = checkUpstream(rules, host, port);
  if (!v.ok) return v;
  if (!connectPorts.includes(port)) return { ok: false, reason: `port ${port} is not allowed for CONNECT (allowed: ${connectPorts.join(', ')})` };
  return v;
}

/** The host name a TLS client must name in its ClientHello for a tunnel to `host`. */
export function sameHost(a: string, b: string): boolean {
  return a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');
}

/** Split a CONNECT target `host:port` (IPv6 in brackets); null when it is not one. */
export function parseAuthority(authority: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(authority);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: (m[1] ?? m[2])!, port };
}
