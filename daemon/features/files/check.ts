// The rules every entry of a source's tar stream must pass before towerd writes it to the target (README "Security model").

export interface Limits {
  /** bytes of file data in the whole transfer */
  maxBytes: number;
  /** entries (files and folders) in the whole transfer */
  maxEntries: number;
  /** bytes of all names together: what the checker keeps in memory to refuse duplicates (default 32 MiB) */
  maxNameBytes?: number;
}

const MAX_NAME_BYTES_TOTAL = 32 * 1024 * 1024;

/** What the checker reads of a tar header (tar-stream's decoded header has these fields). */
export interface EntryHeader {
  name: string;
  type: string | null;
  size: number;
  mode: number;
  linkname?: string | null;
}

export type Checked =
  | { ok: true; name: string; type: 'file' | 'directory'; size: number; mode: number }
  /** stop: nothing after this entry can be read (its data would pass the size cap) */
  | { ok: false; reason: string; stop: boolean };

const MAX_NAME_BYTES = 4096;
const MAX_COMPONENT_BYTES = 255;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** A name as it may appear in an error or the log: control characters escaped, bounded. */
export function displayName(raw: string): string {
  // eslint-disable-next-line no-control-regex
  const s = raw.replace(/[\u0000-\u001f\u007f-\u009f\\]/g, (c) => (c === '\\' ? '\\\\' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
  return s.length > 4096 ? `${s.slice(0, 4096)}…` : s;
}

/**
 * A tar member name made safe: `./` prefixes and a folder's trailing `/` dropped; refused when it is absolute, has
 * `..`, `.` or empty components, control characters, a byte sequence that is not UTF-8 (decoded as U+FFFD), or is too long.
 */
export function normaliseName(raw: string): { ok: true; name: string } | { ok: false; reason: string } {
  if (raw.includes('\uFFFD')) return { ok: false, reason: 'the name is not UTF-8' };
  if (CONTROL.test(raw)) return { ok: false, reason: 'control characters in the name' };
  if (Buffer.byteLength(raw) > MAX_NAME_BYTES) return { ok: false, reason: `the name is longer than ${MAX_NAME_BYTES} bytes` };
  if (raw.startsWith('/')) return { ok: false, reason: 'an absolute path' };
  let name = raw;
  while (name.startsWith('./')) name = name.slice(2);
  while (name.endsWith('/')) name = name.slice(0, -1);
  if (name === '' || name === '.') return { ok: false, reason: 'an empty name' };
  for (const part of name.split('/')) {
    if (part === '..') return { ok: false, reason: 'a .. component' };
    if (part === '.' || part === '') return { ok: false, reason: 'a . or empty component' };
    if (Buffer.byteLength(part) > MAX_COMPONENT_BYTES) return { ok: false, reason: `a component longer than ${MAX_COMPONENT_BYTES} bytes` };
  }
  return { ok: true, name };
}

function typeRefusal(h: EntryHeader): string {
  switch (h.type) {
    case 'symlink':
      return `a symbolic link (to ${displayName(h.linkname ?? '').slice(0, 200)})`;
    case 'link':
      return `a hard link (to ${displayName(h.linkname ?? '').slice(0, 200)})`;
    case 'character-device':
    case 'block-device':
      return `a device (${h.type})`;
    case 'fifo':
      return 'a fifo';
    default:
      return `an unsupported entry type (${h.type ?? 'unknown'})`;
  }
}

/** Mode bits the target gets: permissions only (no setuid, setgid, sticky), always readable and writable by its owner. */
export function safeMode(mode: number, type: 'file' | 'directory'): number {
  return (mode & 0o777) | (type === 'directory' ? 0o700 : 0o600);
}

/**
 * Checks the entries of one transfer in order: counts bytes and entries against the limits, refuses what is not a
 * regular file or a folder, a name outside the top-level names asked for, a name seen twice or below a file.
 */
export class EntryChecker {
  bytes = 0;
  entries = 0;
  private nameBytes = 0;
  private readonly seen = new Set<string>();
  private readonly files = new Set<string>();

  constructor(private readonly limits: Limits) {}

  check(h: EntryHeader, top: string): Checked {
    const n = normaliseName(h.name);
    if (!n.ok) return { ok: false, reason: n.reason, stop: false };
    const name = n.name;
    const type = h.type === 'file' || h.type === 'contiguous-file' ? 'file' : h.type === 'directory' ? 'directory' : null;
    if (!type) return { ok: false, reason: typeRefusal(h), stop: false };
    if (name !== top && !name.startsWith(`${top}/`)) return { ok: false, reason: `outside the requested ${displayName(top)}`, stop: false };
    const size = type === 'directory' ? 0 : h.size;
    if (!Number.isSafeInteger(size) || size < 0) return { ok: false, reason: 'an invalid size', stop: true };
    if (this.entries + 1 > this.limits.maxEntries) return { ok: false, reason: `more than files.maxEntries = ${this.limits.maxEntries} entries`, stop: true };
    if (this.bytes + size > this.limits.maxBytes) {
      return { ok: false, reason: `${size} bytes: over the cap of files.maxBytes = ${this.limits.maxBytes} for the transfer`, stop: true };
    }
    const nameBytes = Buffer.byteLength(name);
    const maxNames = this.limits.maxNameBytes ?? MAX_NAME_BYTES_TOTAL;
    if (this.nameBytes + nameBytes > maxNames) return { ok: false, reason: `the names pass ${maxNames} bytes in all`, stop: true };
    if (this.seen.has(name)) return { ok: false, reason: 'appears twice', stop: false };
    for (let i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) {
      if (this.files.has(name.slice(0, i))) return { ok: false, reason: 'inside an entry that is a file', stop: false };
    }
    this.seen.add(name);
    this.nameBytes += nameBytes;
    if (type === 'file') this.files.add(name);
    this.entries++;
    this.bytes += size;
    return { ok: true, name, type, size, mode: safeMode(h.mode, type) };
  }
}
