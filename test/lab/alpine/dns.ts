// Names inside the lab. The lab has no DNS (every host's resolv.conf is empty) and each host's /etc/hosts
// is its own file, bind-mounted from its boot dir, so a line appended there is seen by that host alone:
// the router's sshd, which opens the relay's direct-tcpip channels, then resolves dl-cdn.alpinelinux.org
// to the internet namespace. The machine's /etc/hosts is never touched (the internet and thin-client
// namespaces share the machine's mount namespace, so they do NOT get the entry).
import type { Lab } from '../lab.js';

/** The Alpine CDN host name apk uses by default, and the relay's default allow-list entry (ports 80 and 443). */
export const ALPINE_CDN = 'dl-cdn.alpinelinux.org';

const NAME = /^[A-Za-z0-9.-]+$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Makes `name` resolve to `ip` (default the internet namespace) on one lab host. Idempotent. */
export async function resolveOnHost(lab: Pick<Lab, 'execHost' | 'internetIp'>, host: string, name = ALPINE_CDN, ip = lab.internetIp): Promise<void> {
  if (!NAME.test(name) || !IPV4.test(ip)) throw new Error(`resolveOnHost: bad name '${name}' or address '${ip}'`);
  // Edit in place (>>): the file is a bind mount, replacing it fails with EBUSY (lab-facts pitfall 9).
  const script = `grep -qE "^${ip.replace(/\./g, '\\.')}[[:space:]]+${name.replace(/\./g, '\\.')}$" /etc/hosts || printf '%s\\t%s\\n' "$1" "$2" >> /etc/hosts`;
  const r = await lab.execHost(host, ['sh', '-c', script, 'sh', ip, name], { timeoutMs: 5000 });
  if (r.code !== 0) throw new Error(`cannot add ${name} to ${host}'s /etc/hosts: ${r.stderr.trim()}`);
}

/** Removes what resolveOnHost added (every line mapping exactly `name`). */
export async function unresolveOnHost(lab: Pick<Lab, 'execHost'>, host: string, name = ALPINE_CDN): Promise<void> {
  if (!NAME.test(name)) throw new Error(`unresolveOnHost: bad name '${name}'`);
  const script = `grep -vE "[[:space:]]${name.replace(/\./g, '\\.')}$" /etc/hosts > /tmp/.hosts.$$; cat /tmp/.hosts.$$ > /etc/hosts; rm -f /tmp/.hosts.$$`;
  const r = await lab.execHost(host, ['sh', '-c', script], { timeoutMs: 5000 });
  if (r.code !== 0) throw new Error(`cannot remove ${name} from ${host}'s /etc/hosts: ${r.stderr.trim()}`);
}

/** What `name` resolves to on a host (getent, i.e. through nsswitch like sshd and apk), or null. */
export async function lookupOnHost(lab: Pick<Lab, 'execHost'>, host: string, name = ALPINE_CDN): Promise<string | null> {
  const r = await lab.execHost(host, ['getent', 'ahostsv4', name], { timeoutMs: 5000 });
  return r.code === 0 ? (r.stdout.trim().split(/\s+/)[0] ?? null) : null;
}
