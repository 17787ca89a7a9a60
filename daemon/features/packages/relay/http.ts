/**
 * The little of HTTP/1.x the package relay needs to read: message heads (request and status line, header fields)
 * and where a chunked body ends. Bodies themselves are never parsed or copied: the relay passes their bytes on.
 */

/** The largest request or response head accepted (Node's own default limit). */
export const MAX_HEAD = 16 * 1024;

const CR = 13;
const LF = 10;

export interface Head {
  /** the request line or status line */
  start: string;
  /** header fields in order, names lower-cased, values trimmed */
  fields: [string, string][];
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Collects bytes until a complete head (ended by an empty line) has arrived, across any chunk boundaries. `push`
 * returns the head's bytes and whatever followed them, or null while the head is incomplete; it throws 431 once
 * more than `max` bytes arrived without the end of a head.
 */
export class HeadReader {
  private parts: Buffer[] = [];
  private length = 0;
  /** the last two bytes held (the end of a head may straddle chunks); -1 when there is none */
  private last = -1;
  private beforeLast = -1;

  constructor(private readonly max = MAX_HEAD) {}

  /** Bytes held while waiting for the end of a head. */
  get pending(): number {
    return this.length;
  }

  push(chunk: Buffer): { head: Buffer; rest: Buffer } | null {
    if (this.length === 0) {
      // empty lines before a request line are ignored (RFC 9112, 2.2)
      let i = 0;
      while (i < chunk.length && (chunk[i] === CR || chunk[i] === LF)) i++;
      if (i) chunk = chunk.subarray(i);
      if (!chunk.length) return null;
    }
    const end = this.findEnd(chunk);
    if (end < 0) {
      if (this.length + chunk.length > this.max) throw new HttpError(431, `the head is larger than ${this.max} bytes`);
      this.parts.push(chunk);
      this.length += chunk.length;
      const n = chunk.length;
      this.beforeLast = n >= 2 ? chunk[n - 2]! : this.last;
      this.last = chunk[n - 1]!;
      return null;
    }
    // `end` is the index in `chunk` just after the empty line
    if (this.length + end > this.max) throw new HttpError(431, `the head is larger than ${this.max} bytes`);
    const head = this.parts.length ? Buffer.concat([...this.parts, chunk.subarray(0, end)]) : chunk.subarray(0, end);
    this.reset();
    return { head, rest: chunk.subarray(end) };
  }

  reset(): void {
    this.parts = [];
    this.length = 0;
    this.last = -1;
    this.beforeLast = -1;
  }

  /** Index in `chunk` after the first LF (CR) LF of the stream (bytes held count too); -1 if none yet. */
  private findEnd(chunk: Buffer): number {
    for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) {
      const b1 = i >= 1 ? chunk[i - 1]! : this.last;
      const b2 = i >= 2 ? chunk[i - 2]! : i === 1 ? this.last : this.beforeLast;
      if (b1 === LF || (b1 === CR && b2 === LF)) return i + 1;
    }
    return -1;
  }
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// field values: visible characters, spaces and tabs, and obs-text; never CR, LF or NUL
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Split a head into its start line and fields; 400 for anything malformed (folded lines, bad names, NULs). */
export function parseHead(bytes: Buffer): Head {
  const text = bytes.toString('latin1');
  const lines = text.split(/\r?\n/);
  // the empty line(s) that ended the head
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  const start = lines.shift();
  if (!start) throw new HttpError(400, 'empty request');
  const fields: [string, string][] = [];
  for (const line of lines) {
    if (line.startsWith(' ') || line.startsWith('\t')) throw new HttpError(400, 'folded header lines are not accepted');
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HttpError(400, 'a header line without a name');
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (!TOKEN.test(name)) throw new HttpError(400, 'a header name with characters HTTP does not allow');
    if (!VALUE.test(value)) throw new HttpError(400, `header ${name} has characters HTTP does not allow`);
    fields.push([name.toLowerCase(), value]);
  }
  return { start, fields };
}

export interface RequestLine {
  method: string;
  target: string;
  /** 0 or 1: HTTP/1.0 or HTTP/1.1 */
  minor: number;
}

export function parseRequestLine(start: string): RequestLine {
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.([01])$/.exec(start);
  if (!m) throw new HttpError(400, 'not an HTTP/1.x request line');
  return { method: m[1]!, target: m[2]!, minor: Number(m[3]) };
}

export function parseStatusLine(start: string): { minor: number; status: number; reason: string } {
  const m = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: (.*))?$/.exec(start);
  if (!m) throw new HttpError(502, 'the upstream did not answer with an HTTP/1.x status line');
  return { minor: Number(m[1]), status: Number(m[2]), reason: m[3] ?? '' };
}

/**
 * The request fields passed on to a repository: what a package manager needs to fetch, revalidate and resume a
 * file. Everything else a host sends (cookies, credentials, Forwarded and X-Forwarded-*, its own extensions) stays
 * here: the relay passes on fetches, not messages from a host to a CDN. Host is written by the relay itself.
 */
export const FORWARDED_REQUEST_FIELDS: ReadonlySet<string> = new Set([
  'user-agent',
  'accept',
  'accept-encoding',
  'range',
  'if-range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'cache-control',
  'pragma',
]);

/** All values of a field, comma lists split, lower-cased. */
export function tokens(fields: readonly [string, string][], name: string): string[] {
  const out: string[] = [];
  for (const [k, v] of fields) if (k === name) for (const t of v.split(',')) if (t.trim()) out.push(t.trim().toLowerCase());
  return out;
}

/**
 * The body length a head declares: a number, 'chunked', or null when there is no Content-Length and no
 * Transfer-Encoding. Conflicting or malformed lengths are an error with `status`.
 */
export function bodyLength(fields: readonly [string, string][], status: number): number | 'chunked' | 'close' | null {
  const te = tokens(fields, 'transfer-encoding');
  if (te.length) return te[te.length - 1] === 'chunked' ? 'chunked' : 'close';
  // the field is there but names no coding (`Transfer-Encoding: ,`): not the same as no field at all
  if (fields.some(([k]) => k === 'transfer-encoding')) throw new HttpError(status, 'a Transfer-Encoding without a coding');
  const lengths = fields.filter(([k]) => k === 'content-length').flatMap(([, v]) => v.split(',').map((x) => x.trim()));
  if (!lengths.length) return null;
  if (!lengths.every((l) => /^\d{1,15}$/.test(l) && l === lengths[0]!)) throw new HttpError(status, 'a malformed or conflicting Content-Length');
  return Number(lengths[0]);
}

/**
 * Follows a chunked body as it streams past, without copying it: counts the payload bytes and says where the body
 * (last chunk, trailers and the final empty line) ends.
 */
export class ChunkedCounter {
  /** payload bytes seen (chunk data only, not the framing) */
  payload = 0;
  private state: 'size' | 'ext' | 'sizeLf' | 'data' | 'dataCr' | 'dataLf' | 'trailerStart' | 'trailer' | 'trailerLf' | 'endLf' | 'done' = 'size';
  private size = 0;
  private sizeDigits = 0;
  private left = 0;
  private trailerBytes = 0;

  get done(): boolean {
    return this.state === 'done';
  }

  /** Feed bytes; returns how many of them belong to the body (all of them until the end is found). */
  feed(b: Buffer): number {
    let i = 0;
    const n = b.length;
    while (i < n) {
      switch (this.state) {
        case 'data': {
          const take = Math.min(this.left, n - i);
          this.left -= take;
          this.payload += take;
          i += take;
          if (this.left === 0) this.state = 'dataCr';
          continue;
        }
        case 'done':
          return i;
        default:
          break;
      }
      const c = b[i++]!;
      switch (this.state) {
        case 'size': {
          const d = hexDigit(c);
          if (d >= 0) {
            if (++this.sizeDigits > 12) throw new HttpError(502, 'a chunk size out of range');
            this.size = this.size * 16 + d;
          } else if (this.sizeDigits && (c === 0x3b || c === 0x20 || c === 0x09)) this.state = 'ext';
          else if (this.sizeDigits && c === CR) this.state = 'sizeLf';
          else throw new HttpError(502, 'a malformed chunk size');
          break;
        }
        case 'ext':
          if (c === CR) this.state = 'sizeLf';
          else if (c === LF) throw new HttpError(502, 'a malformed chunk size line');
          break;
        case 'sizeLf':
          if (c !== LF) throw new HttpError(502, 'a malformed chunk size line');
          this.left = this.size;
          this.size = 0;
          this.sizeDigits = 0;
          this.state = this.left ? 'data' : 'trailerStart';
          break;
        case 'dataCr':
          if (c !== CR) throw new HttpError(502, 'chunk data longer than its size');
          this.state = 'dataLf';
          break;
        case 'dataLf':
          if (c !== LF) throw new HttpError(502, 'chunk data longer than its size');
          this.state = 'size';
          break;
        case 'trailerStart':
          if (c === CR) this.state = 'endLf';
          else if (c === LF) throw new HttpError(502, 'a malformed chunked trailer');
          else this.state = 'trailer';
          break;
        case 'trailer':
          if (++this.trailerBytes > MAX_HEAD) throw new HttpError(502, 'chunked trailers too large');
          if (c === CR) this.state = 'trailerLf';
          else if (c === LF) throw new HttpError(502, 'a malformed chunked trailer');
          break;
        case 'trailerLf':
          if (c !== LF) throw new HttpError(502, 'a malformed chunked trailer');
          this.state = 'trailerStart';
          break;
        case 'endLf':
          if (c !== LF) throw new HttpError(502, 'a malformed end of a chunked body');
          this.state = 'done';
          return i;
      }
    }
    return i;
  }
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
};

/** A complete short plain-text answer that closes the connection. */
export function plainResponse(status: number, body: string): string {
  return `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}
