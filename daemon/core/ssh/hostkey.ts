import { readIfExists } from '../util/fs.js';
import { keysFor, lookupName } from '../registry/knownhosts.js';

/** What the pinned known_hosts entries say about the key a host presented. */
export type HostKeyCheck = { ok: true } | { ok: false; reason: string };

export interface PinnedKeys {
  trusted: Set<string>;
  revoked: Set<string>;
  /** the name the keys are pinned under: the address, `[addr]:port` when the port is not 22 */
  pinnedAs: string;
  /** entries that match the host only by its name or a pattern, which Tower does not trust */
  ignored: number;
}

/**
 * The keys pinned for a host: entries that name its address exactly, as provisioning writes them. Its name and
 * patterns count only for `@revoked`.
 */
export async function pinnedKeys(knownHostsPath: string, ip: string, name: string, port = 22): Promise<PinnedKeys> {
  const text = (await readIfExists(knownHostsPath)) ?? '';
  const pinnedAs = lookupName(ip, port);
  const { trusted, revoked, ignored } = keysFor(text, pinnedAs, [lookupName(name, port)]);
  return { trusted, revoked, ignored, pinnedAs };
}

export function noPinnedKey(pinned: PinnedKeys): string {
  const ignored = pinned.ignored
    ? `; ${pinned.ignored} ${pinned.ignored === 1 ? 'entry matches' : 'entries match'} it only by name or pattern, which Tower does not trust`
    : '';
  return `no host key is pinned for ${pinned.pinnedAs} in known_hosts (Tower never trusts on first use${ignored})`;
}

/** Compare the raw SSH key blob a server sent with the pinned ones. No entry means refusal: no trust on first use. */
export function checkHostKey(pinned: PinnedKeys, blob: Buffer): HostKeyCheck {
  const b64 = blob.toString('base64');
  if (pinned.revoked.has(b64)) return { ok: false, reason: 'the host presented a key marked @revoked in known_hosts' };
  if (pinned.trusted.has(b64)) return { ok: true };
  if (pinned.trusted.size === 0) return { ok: false, reason: noPinnedKey(pinned) };
  return { ok: false, reason: `the host key does not match the one pinned in known_hosts for ${pinned.pinnedAs}` };
}
