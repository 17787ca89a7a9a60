// The byte stream a connection switches to after `exec.run` is answered: binary frames, 1-byte type + 4-byte
// big-endian length + payload. Control payloads are JSON. Kept free of zod: towerctl uses it on every exec.

export const StreamFrame = {
  /** client → towerd: bytes for the command's stdin */
  Stdin: 0x00,
  /** client → towerd: stdin is finished */
  StdinEof: 0x01,
  /** client → towerd: {"rows":N,"cols":N} terminal size changed */
  Resize: 0x02,
  /** client → towerd: {"signal":"INT"} deliver a signal (commands without a terminal) */
  Signal: 0x03,
  /** towerd → client: bytes the command wrote to stdout */
  Stdout: 0x10,
  /** towerd → client: bytes the command wrote to stderr */
  Stderr: 0x11,
  /** towerd → client: {"code":N|null,"signal":"TERM"|null,"error":"…"?}; the last frame */
  Exit: 0x12,
} as const;

export const MAX_STREAM_PAYLOAD = 1024 * 1024;

export function encodeFrame(type: number, payload: Uint8Array | string = new Uint8Array(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type;
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
}

/** Splits a byte stream into frames; returns 'invalid' for a frame that is too big (the connection is then closed). */
export class StreamDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { type: number; payload: Buffer }[] | 'invalid' {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: { type: number; payload: Buffer }[] = [];
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(1);
      if (len > MAX_STREAM_PAYLOAD) return 'invalid';
      if (this.buf.length < 5 + len) break;
      out.push({ type: this.buf[0]!, payload: this.buf.subarray(5, 5 + len) });
      this.buf = this.buf.subarray(5 + len);
    }
    return out;
  }
}

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  error?: string;
}
