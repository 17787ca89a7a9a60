import { posix } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';

// SFTP version 3 (draft-ietf-secsh-filexfer-02), the client's side only: requests are checked before they reach the
// storage host's sftp-server, so the source host's restic can touch nothing outside the repository's folder.

const T = {
  INIT: 1,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  EXTENDED: 200,
} as const;

/** requests that name an open handle only: the handle came from a request that was checked */
const HANDLE_ONLY = new Set<number>([T.CLOSE, T.READ, T.WRITE, T.FSTAT, T.FSETSTAT, T.READDIR]);
/** requests whose first field is a path inside the folder */
const ONE_PATH = new Set<number>([T.OPEN, T.SETSTAT, T.OPENDIR, T.REMOVE, T.MKDIR, T.RMDIR, T.REALPATH, T.READLINK]);
/** metadata of the folder's parents may be read too (restic's MkdirAll walks up to the first existing one) */
const STAT_PATH = new Set<number>([T.STAT, T.LSTAT]);

/** restic writes at most 32 KiB per WRITE; anything much larger is not a client we know */
export const MAX_PACKET = 256 * 1024;
const SSH_FX_PERMISSION_DENIED = 3;

export interface JailStats {
  allowed: number;
  denied: number;
  /** the request types that were refused, with their counts */
  deniedTypes: Map<string, number>;
}

function readString(b: Buffer, at: number): { s: Buffer; next: number } | undefined {
  if (at + 4 > b.length) return undefined;
  const n = b.readUInt32BE(at);
  if (at + 4 + n > b.length) return undefined;
  return { s: b.subarray(at + 4, at + 4 + n), next: at + 4 + n };
}

/** A path the server may be asked about: absolute, no NUL, and (after resolving `.` and `..`) the folder or below it. */
export function inside(root: string, raw: Buffer, allowParents = false): boolean {
  const p = raw.toString('utf8');
  if (!p.startsWith('/') || p.includes('\0') || Buffer.byteLength(p) !== raw.length) return false;
  const n = posix.normalize(p).replace(/(.)\/+$/, '$1');
  if (n === root || n.startsWith(root === '/' ? '/' : root + '/')) return true;
  return allowParents && (n === '/' || root.startsWith(n + '/'));
}

/** The status reply that refuses request `id`. */
function denied(id: number, why: string): Buffer {
  const msg = Buffer.from(why, 'utf8');
  const body = Buffer.alloc(1 + 4 + 4 + 4 + msg.length + 4);
  let o = 0;
  o = body.writeUInt8(T.STATUS, o);
  o = body.writeUInt32BE(id, o);
  o = body.writeUInt32BE(SSH_FX_PERMISSION_DENIED, o);
  o = body.writeUInt32BE(msg.length, o);
  o += msg.copy(body, o);
  body.writeUInt32BE(0, o); // language tag: empty
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/**
 * What one request may do: null when it passes, else why not. `root` is the folder, absolute and normalized.
 * Links are never made (SYMLINK, hardlink@openssh.com), so nothing inside the folder can point out of it unless
 * someone on the storage host put it there.
 */
export function judge(root: string, pkt: Buffer): string | null {
  const type = pkt[0]!;
  if (type === T.INIT) return pkt.length === 5 ? null : 'malformed INIT';
  if (pkt.length < 5) return 'malformed request';
  if (HANDLE_ONLY.has(type)) return null;
  const first = readString(pkt, 5);
  if (!first) return 'malformed request';
  if (ONE_PATH.has(type)) return inside(root, first.s) ? null : 'outside the repository folder';
  if (STAT_PATH.has(type)) return inside(root, first.s, true) ? null : 'outside the repository folder';
  if (type === T.RENAME) {
    const second = readString(pkt, first.next);
    return second && inside(root, first.s) && inside(root, second.s) ? null : 'outside the repository folder';
  }
  if (type === T.EXTENDED) {
    const name = first.s.toString('latin1');
    if (name === 'fsync@openssh.com') return null; // a handle
    const a = readString(pkt, first.next);
    if (!a) return 'malformed request';
    if (name === 'statvfs@openssh.com') return inside(root, a.s) ? null : 'outside the repository folder';
    if (name === 'posix-rename@openssh.com') {
      const b = readString(pkt, a.next);
      return b && inside(root, a.s) && inside(root, b.s) ? null : 'outside the repository folder';
    }
    return `extension ${JSON.stringify(name.slice(0, 64))} is not allowed`;
  }
  if (type === T.SYMLINK) return 'links are not allowed';
  return `request type ${type} is not allowed`;
}

/**
 * Client → server bytes in, the allowed requests out (to the storage host's sftp-server); each refused request is
 * answered with SSH_FX_PERMISSION_DENIED through `reply` (to the client). A packet larger than MAX_PACKET or a
 * stream that does not parse ends the stream with an error.
 */
export class SftpJail extends Transform {
  private buf: Buffer = Buffer.alloc(0);
  readonly stats: JailStats = { allowed: 0, denied: 0, deniedTypes: new Map() };

  constructor(
    private readonly root: string,
    private readonly reply: (b: Buffer) => void,
  ) {
    super();
    if (!root.startsWith('/') || posix.normalize(root) !== root || (root.endsWith('/') && root !== '/')) throw new Error(`not a normalized absolute folder: ${root}`);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len < 1 || len > MAX_PACKET) return done(new Error(`sftp packet of ${len} bytes refused`));
      if (this.buf.length < 4 + len) break;
      const whole = this.buf.subarray(0, 4 + len);
      const pkt = whole.subarray(4);
      this.buf = this.buf.subarray(4 + len);
      const why = judge(this.root, pkt);
      if (why === null) {
        this.stats.allowed++;
        this.push(Buffer.from(whole));
        continue;
      }
      this.stats.denied++;
      const key = String(pkt[0]);
      this.stats.deniedTypes.set(key, (this.stats.deniedTypes.get(key) ?? 0) + 1);
      if (pkt[0] === T.INIT || pkt.length < 5) return done(new Error(`sftp: ${why}`));
      this.reply(denied(pkt.readUInt32BE(1), why));
    }
    done();
  }
}
