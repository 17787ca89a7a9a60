/**
 * Newline-delimited frames with a hard size cap. Bytes are kept as Buffers until a full line is there, so a
 * client can never make the daemon hold more than `maxBytes` (plus one read) for one connection.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes received after the last complete frame (for a connection that switches to another protocol). */
  drain(): Buffer {
    const rest = Buffer.concat(this.chunks);
    this.chunks = [];
    this.size = 0;
    return rest;
  }

  /** Returns complete frames, or 'overflow' once a frame exceeds the cap (the connection should then be closed). */
  push(chunk: Buffer): Buffer[] | 'overflow' {
    const frames: Buffer[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (this.size + piece.length > this.maxBytes) return 'overflow';
      frames.push(this.size ? Buffer.concat([...this.chunks, piece]) : Buffer.from(piece));
      this.chunks = [];
      this.size = 0;
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length) {
      if (this.size + rest.length > this.maxBytes) return 'overflow';
      this.chunks.push(Buffer.from(rest));
      this.size += rest.length;
    }
    return frames;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8 decoding: invalid sequences are an error, never replaced silently. */
export function decodeUtf8(buf: Buffer): string | null {
  try {
    return utf8.decode(buf);
  } catch {
    return null;
  }
}

/**
 * Whether a frame nests arrays and objects deeper than `max`, judged from its bytes before JSON.parse builds
 * anything: a 1 MiB frame of brackets would otherwise become half a million objects only to be refused.
 * Brackets inside strings do not count. Malformed JSON is left to JSON.parse.
 */
export function nestedDeeperThan(buf: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next byte is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
