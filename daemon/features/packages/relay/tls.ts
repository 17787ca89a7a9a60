/**
 * Just enough TLS to see where a CONNECT tunnel is going: the server name (SNI) of the client's first handshake
 * message. Nothing is decrypted or answered; the bytes read are passed on unchanged once the name is allowed.
 * Every length is checked against what contains it, so a hostile ClientHello can only be refused, never read
 * past its end or buffered without bound.
 */

/** Handshake bytes accepted for a ClientHello (real ones are 0.5–2 KiB, post-quantum key shares included). */
export const MAX_CLIENT_HELLO = 16 * 1024;
/** Bytes on the wire a ClientHello may take, records' headers included (many tiny records are allowed, not endless ones). */
export const MAX_CLIENT_HELLO_WIRE = 64 * 1024;
/** The largest TLS plaintext record (RFC 8446, 5.1). */
const MAX_RECORD = 16 * 1024;
const HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
/** encrypted_client_hello (RFC 9849): the name that counts would be hidden inside */
const EXT_ECH = 0xfe0d;
const HOST_NAME = 0;

export class TlsError extends Error {}

export type ClientHello =
  /** more bytes are needed */
  | { complete: false }
  /** `serverName`: the host_name of the server_name extension, lower-cased; null when there is none */
  | { complete: true; serverName: string | null };

/** A bounds-checked reader over one byte range; any read past its end is a malformed message. */
class Cursor {
  constructor(
    private readonly b: Buffer,
    private pos: number,
    private readonly end: number,
    private readonly what: string,
  ) {}

  get left(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (n > this.left) throw new TlsError(`a malformed ClientHello: ${this.what} is cut short`);
  }

  u8(): number {
    this.need(1);
    return this.b[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.b.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** A sub-range of `n` bytes, consumed from this one. */
  sub(n: number, what: string): Cursor {
    this.need(n);
    const c = new Cursor(this.b, this.pos, this.pos + n, what);
    this.pos += n;
    return c;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** The range must have been read to its end exactly. */
  done(): void {
    if (this.left !== 0) throw new TlsError(`a malformed ClientHello: ${this.left} bytes left over in ${this.what}`);
  }
}

/**
 * Look at the first bytes a client sent into a tunnel: `{ complete: false }` while the ClientHello has not fully
 * arrived, its server name once it has; a TlsError for anything that is not a well-formed TLS ClientHello.
 * The handshake message may be split over several records (each one is checked), as RFC 8446 allows.
 */
export function readClientHello(data: Buffer): ClientHello {
  const parts: Buffer[] = [];
  let have = 0;
  let pos = 0;
  let msgLength = -1;
  const more = (): ClientHello => {
    if (data.length >= MAX_CLIENT_HELLO_WIRE) throw new TlsError(`no complete ClientHello in the first ${MAX_CLIENT_HELLO_WIRE} bytes`);
    return { complete: false };
  };
  while (msgLength < 0 || have < msgLength + 4) {
    if (data.length - pos < 5) return more();
    const type = data[pos]!;
    const major = data[pos + 1]!;
    const length = data.readUInt16BE(pos + 3);
    if (type !== HANDSHAKE) throw new TlsError(pos === 0 ? 'not a TLS handshake (the tunnel must start with a ClientHello)' : 'a ClientHello interrupted by another kind of TLS record');
    if (major !== 3) throw new TlsError(`not a TLS record (version ${major}.${data[pos + 2]!})`);
    if (length === 0 || length > MAX_RECORD) throw new TlsError(`a TLS record of ${length} bytes`);
    if (data.length - pos - 5 < length) {
      // the length of the whole message may already be known, and too large to wait for (headerLength throws)
      if (msgLength < 0 && have + data.length - pos - 5 >= 4) headerLength(Buffer.concat([...parts, data.subarray(pos + 5)]));
      return more();
    }
    parts.push(data.subarray(pos + 5, pos + 5 + length));
    have += length;
    pos += 5 + length;
    if (msgLength < 0 && have >= 4) msgLength = headerLength(Buffer.concat(parts));
  }
  const msg = Buffer.concat(parts);
  // a record holding more than the ClientHello: there is nothing a client may send before the server answers
  if (msg.length !== msgLength + 4) throw new TlsError('a malformed ClientHello: more handshake data follows it in its record');
  return { complete: true, serverName: parseBody(new Cursor(msg, 4, msg.length, 'the ClientHello')) };
}

/** The handshake header: a ClientHello and its body length, bounded. */
function headerLength(h: Buffer): number {
  if (h[0] !== CLIENT_HELLO) throw new TlsError(`the first TLS handshake message is not a ClientHello (type ${h[0]!})`);
  const n = (h[1]! << 16) | (h[2]! << 8) | h[3]!;
  if (n + 4 > MAX_CLIENT_HELLO) throw new TlsError(`a ClientHello of ${n} bytes, over the limit of ${MAX_CLIENT_HELLO - 4}`);
  if (n < 38) throw new TlsError(`a ClientHello of ${n} bytes is too short to be one`);
  return n;
}

function parseBody(c: Cursor): string | null {
  const major = c.u8();
  c.u8();
  if (major !== 3) throw new TlsError(`a ClientHello for protocol version ${major}, not TLS`);
  c.skip(32); // random
  const session = c.u8();
  if (session > 32) throw new TlsError(`a malformed ClientHello: a session id of ${session} bytes`);
  c.skip(session);
  const suites = c.u16();
  if (suites < 2 || suites % 2) throw new TlsError(`a malformed ClientHello: cipher suites of ${suites} bytes`);
  c.skip(suites);
  const compression = c.u8();
  if (compression < 1) throw new TlsError('a malformed ClientHello: no compression methods');
  c.skip(compression);
  // TLS 1.2 allows a ClientHello without extensions: then it names no server
  if (c.left === 0) return null;
  const exts = c.sub(c.u16(), 'the extensions');
  c.done();
  const seen = new Set<number>();
  let name: string | null = null;
  while (exts.left > 0) {
    const type = exts.u16();
    const body = exts.sub(exts.u16(), `extension ${type}`);
    if (seen.has(type)) throw new TlsError(`a malformed ClientHello: extension ${type} appears twice`);
    seen.add(type);
    if (type === EXT_ECH) throw new TlsError('an encrypted ClientHello (ECH) hides the server name');
    if (type === EXT_SERVER_NAME) name = parseServerName(body);
    else body.skip(body.left);
  }
  return name;
}

/** RFC 6066, 3: a list with at most one host_name, an ASCII DNS name without a trailing dot. */
function parseServerName(body: Cursor): string {
  const list = body.sub(body.u16(), 'the server name list');
  body.done();
  let name: string | null = null;
  while (list.left > 0) {
    const type = list.u8();
    const n = list.u16();
    const value = list.bytes(n);
    if (type !== HOST_NAME) continue;
    if (name !== null) throw new TlsError('a malformed ClientHello: two host names in its server_name');
    const text = value.toString('latin1');
    if (n < 1 || n > 253 || !/^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(text)) throw new TlsError('a malformed ClientHello: its server name is not a DNS host name');
    name = text.toLowerCase();
  }
  if (name === null) throw new TlsError('a malformed ClientHello: a server_name extension without a host name');
  return name;
}
