// A minimal ustar writer for apk v2 packages and indexes. apk v2 needs things `tar(1)` does not do in one
// call: tar *segments* (no end-of-archive blocks, so gzip members concatenate into one archive) and a
// pax extended header before each data file carrying `APK-TOOLS.checksum.SHA1` (what abuild-tar --hash adds).

const BLOCK = 512;

export interface TarEntry {
  /** Path inside the archive, relative, no leading '/'. Directories may omit the trailing '/'. */
  name: string;
  type: 'file' | 'dir';
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  content?: Buffer;
  /** pax extended-header records written in an 'x' entry just before this one. */
  pax?: Record<string, string>;
}

/** Octal, zero-padded to width-1 digits, NUL-terminated (the classic ustar numeric field). */
function octal(value: number, width: number): string {
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new Error(`tar: ${value} does not fit a ${width}-byte field`);
  return `${digits.padStart(width - 1, '0')}\0`;
}

/** Splits a long path into ustar prefix (≤155) and name (≤100) at a '/', or null when impossible. */
function splitUstarPath(path: string): { prefix: string; name: string } | null {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path };
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) return { prefix, name };
  }
  return null;
}

function header(name: string, typeflag: string, size: number, mode: number, mtime: number, prefix = ''): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid root: apk installs as root anyway
  h.write(octal(0, 8), 116, 'ascii'); // gid root
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(Math.floor(mtime), 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum is computed with its own field as spaces
  h.write(typeflag, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

function padded(data: Buffer): Buffer[] {
  const rest = data.length % BLOCK;
  return rest === 0 ? [data] : [data, Buffer.alloc(BLOCK - rest)];
}

/** One pax record: "<len> key=value\n" where <len> counts the whole record, its own digits included. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body);
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** Tar blocks for `entries`; with eof the two zero blocks that end a tarball, without it a concatenable segment. */
export function tarBlocks(entries: readonly TarEntry[], opts: { eof: boolean }): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    if (e.name.startsWith('/') || e.name.split('/').includes('..')) throw new Error(`tar: unsafe entry name '${e.name}'`);
    const path = e.type === 'dir' && !e.name.endsWith('/') ? `${e.name}/` : e.name;
    const pax: Record<string, string> = { ...e.pax };
    let split = splitUstarPath(path);
    if (!split) {
      pax.path = path;
      split = { prefix: '', name: path.slice(0, 100) };
    }
    if (Object.keys(pax).length > 0) {
      const records = Buffer.from(Object.entries(pax).map(([k, v]) => paxRecord(k, v)).join(''), 'utf8');
      const base = path.replace(/\/$/, '').split('/').pop() ?? 'entry';
      out.push(header(`PaxHeaders/${base}`.slice(0, 100), 'x', records.length, 0o644, e.mtime), ...padded(records));
    }
    const content = e.type === 'file' ? (e.content ?? Buffer.alloc(0)) : Buffer.alloc(0);
    out.push(header(split.name, e.type === 'dir' ? '5' : '0', content.length, e.mode, e.mtime, split.prefix));
    if (content.length > 0) out.push(...padded(content));
  }
  if (opts.eof) out.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(out);
}
