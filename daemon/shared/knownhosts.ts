import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * OpenSSH known_hosts, read and edited without ssh-keygen: plain and hashed (`|1|salt|hash`) host fields, comma
 * lists with `*`/`?`/`!` patterns, `@revoked` and `@cert-authority` markers. Edits only ever touch lines that
 * name the given host, so a user's other entries stay as they are. Trust is narrower than OpenSSH's: see keysFor.
 */
export interface KnownHostLine {
  /** index in the file's lines */
  index: number;
  marker: '@revoked' | '@cert-authority' | null;
  hosts: string[];
  keyType: string;
  /** the key blob, base64 as in the file */
  key: string;
}

export function parseKnownHosts(text: string): KnownHostLine[] {
  const out: KnownHostLine[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const f = line.split(/\s+/);
    let marker: KnownHostLine['marker'] = null;
    if (f[0] === '@revoked' || f[0] === '@cert-authority') marker = f.shift() as KnownHostLine['marker'];
    if (f.length < 3) return;
    out.push({ index, marker, hosts: f[0]!.split(','), keyType: f[1]!, key: f[2]! });
  });
  return out;
}

/** The name OpenSSH looks up: `host`, or `[host]:port` when the port is not 22. */
export function lookupName(host: string, port = 22): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  let re = '^';
  for (const ch of pattern) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(re + '$', 'i').test(name);
}

function hashedMatch(entry: string, name: string): boolean {
  const parts = entry.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2]!, 'base64');
  const want = Buffer.from(parts[3]!, 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Does this line's host field name `name`? A negated pattern that matches vetoes the line. */
export function lineMatches(line: KnownHostLine, name: string): boolean {
  let matched = false;
  for (const h of line.hosts) {
    if (h.startsWith('|')) {
      if (hashedMatch(h, name)) matched = true;
    } else if (h.startsWith('!')) {
      if (globMatch(h.slice(1), name)) return false;
    } else if (globMatch(h, name)) {
      matched = true;
    }
  }
  return matched;
}

/** Does the host field name `name` literally (no wildcard), i.e. is this line about that host alone? */
function namesExactly(h: string, name: string): boolean {
  return h.startsWith('|') ? hashedMatch(h, name) : h.toLowerCase() === name.toLowerCase();
}

/**
 * Is this line a pin of `name` in Tower's sense: one of its host fields is `name` itself (or its hash). Patterns
 * never pin a host, even when they match it: a `192.168.3.*` line or one written for another purpose must not
 * trust whatever machine answers at a new address. A negated pattern that matches still vetoes the line, as in
 * OpenSSH.
 */
export function linePins(line: KnownHostLine, name: string): boolean {
  if (line.hosts.some((h) => h.startsWith('!') && globMatch(h.slice(1), name))) return false;
  return line.hosts.some((h) => !h.startsWith('!') && namesExactly(h, name));
}

export interface HostKeyVerdict {
  /** key blob (base64) accepted for this host, non-revoked */
  trusted: Set<string>;
  revoked: Set<string>;
  /** non-revoked lines OpenSSH would use for the host that Tower does not count (patterns, the bare name) */
  ignored: number;
}

/**
 * The keys pinned for a host: only lines that name `pinned` (its lookup name, `addr` or `[addr]:port`) exactly.
 * Revocation is read the other way, as widely as OpenSSH reads it: an `@revoked` line refuses its key when any of
 * its patterns matches `pinned` or one of `alsoRevokedUnder` (the host's name), since refusing more is safe.
 */
export function keysFor(text: string, pinned: string, alsoRevokedUnder: string[] = []): HostKeyVerdict {
  const trusted = new Set<string>();
  const revoked = new Set<string>();
  let ignored = 0;
  const all = [pinned, ...alsoRevokedUnder];
  for (const line of parseKnownHosts(text)) {
    if (line.marker === '@cert-authority') continue; // certificates are not supported by the SSH library
    if (line.marker === '@revoked') {
      if (all.some((n) => lineMatches(line, n))) revoked.add(line.key);
    } else if (linePins(line, pinned)) {
      trusted.add(line.key);
    } else if (all.some((n) => lineMatches(line, n))) {
      ignored++;
    }
  }
  for (const k of revoked) trusted.delete(k);
  return { trusted, revoked, ignored };
}

/**
 * Remove exactly this host's entries: a host field equal to one of `names` (or hashed to it) is dropped from its
 * line; a line left with no host is dropped. Wildcard lines and other hosts' lines are kept.
 */
export function removeHostEntries(text: string, names: string[]): { text: string; removed: number } {
  const lines = text.split('\n');
  const drop = new Set<number>();
  let removed = 0;
  for (const line of parseKnownHosts(text)) {
    const keep = line.hosts.filter((h) => !names.some((n) => namesExactly(h, n)));
    if (keep.length === line.hosts.length) continue;
    removed++;
    if (keep.length === 0) {
      drop.add(line.index);
    } else {
      const raw = lines[line.index]!;
      lines[line.index] = raw.replace(line.hosts.join(','), keep.join(','));
    }
  }
  return { text: lines.filter((_, i) => !drop.has(i)).join('\n'), removed };
}

/**
 * Append `host keytype key` lines (TowerOS pins `<ip> <key>`), after removing stale entries for those names and
 * for `alsoRemove` (the host's name: a plain `ssh NAME` would otherwise still accept an old key under it).
 */
export function pinHostKeys(text: string, hostField: string, publicKeys: string[], alsoRemove: string[] = []): string {
  const { text: cleaned } = removeHostEntries(text, [...hostField.split(','), ...alsoRemove]);
  let out = cleaned;
  if (out.length > 0 && !out.endsWith('\n')) out += '\n';
  for (const k of publicKeys) {
    const [type, blob] = k.trim().split(/\s+/);
    if (!type || !blob) throw new Error('malformed public key');
    out += `${hostField} ${type} ${blob}\n`;
  }
  return out;
}
