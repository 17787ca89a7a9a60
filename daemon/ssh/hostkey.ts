import { readIfExists } from '../util/fs.js';
import { keysFor, lookupName } from '../registry/knownhosts.js';

/** What the pinned known_hosts entries say about the key a host presented. */
export type HostKeyCheck = { ok: true } | { ok: false; reason: string };

export interface PinnedKeys {
  trusted: Set<string>;
  revoked: Set<string>;
  names: string[];
}

/** The keys pinned for a host under its address and its name (`[addr]:port` form when the port is not 22). */
export async function pinnedKeys(knownHostsPath: string, ip: string, name: string, port = 22): Promise<PinnedKeys> {
  const text = (await readIfExists(knownHostsPath)) ?? '';
  const names = [lookupName(ip, port), lookupName(name, port)];
  return { ...keysFor(text, names), names };
}

export function noPinnedKey(pinned: PinnedKeys): string {
  return `no host key is pinned for ${pinned.names.join(' or ')} in known_hosts (Tower never trusts on first use)`;
}

/** Compare the raw SSH key blob a server sent with the pinned ones. No entry means refusal: no trust on first use. */
export function checkHostKey(pinned: PinnedKeys, blob: Buffer): HostKeyCheck {
  const b64 = blob.toString('base64');
  if (pinned.revoked.has(b64)) return { ok: false, reason: 'the host presented a key marked @revoked in known_hosts' };
  if (pinned.trusted.has(b64)) return { ok: true };
  if (pinned.trusted.size === 0) return { ok: false, reason: noPinnedKey(pinned) };
  return { ok: false, reason: `the host key does not match the one pinned in known_hosts for ${pinned.names[0]}` };
}
