// Watches the server side of an RFB (VNC) stream, without changing it, until the first FramebufferUpdate: the
// moment the viewer has pixels to show. Only what our own Xvnc sends is parsed (RFB 3.8, security type None);
// anything unexpected ends the watch and counts as "showing", since the viewer is then past its handshake.

type Phase = 'version' | 'secCount' | 'secTypes' | 'secResult' | 'serverInit' | 'serverName' | 'messages' | 'done';

export class FirstFrameWatch {
  private phase: Phase = 'version';
  private buf: Buffer = Buffer.alloc(0);
  private need = 12;
  private skip = 0;

  constructor(private readonly onFirstFrame: (how: 'update' | 'unparsed') => void) {}

  get done(): boolean {
    return this.phase === 'done';
  }

  push(chunk: Buffer): void {
    if (this.phase === 'done') return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, this.buf.length);
        this.skip -= n;
        this.buf = this.buf.subarray(n);
        if (this.skip > 0) return;
      }
      if (this.buf.length < this.need) return;
      const b = this.buf;
      switch (this.phase) {
        case 'version': {
          const v = b.toString('latin1', 0, 12);
          if (!/^RFB 003\.00[78]\n$/.test(v)) return this.finish('unparsed');
          this.take(12, 'secCount', 1);
          break;
        }
        case 'secCount': {
          const n = b[0]!;
          if (n === 0) return this.finish('unparsed');
          this.take(1, 'secTypes', n);
          break;
        }
        case 'secTypes':
          // the viewer picks None (type 1), the only one our Xvnc offers: a 4-byte SecurityResult follows
          this.take(this.need, 'secResult', 4);
          break;
        case 'secResult':
          if (b.readUInt32BE(0) !== 0) return this.finish('unparsed');
          this.take(4, 'serverInit', 24);
          break;
        case 'serverInit': {
          const nameLen = b.readUInt32BE(20);
          this.take(24, 'messages', 1);
          this.skip = nameLen;
          break;
        }
        case 'messages': {
          const type = b[0]!;
          if (type === 0) return this.finish('update');
          const len = this.messageLength(b);
          if (len === undefined) return this.finish('unparsed');
          if (len < 0) return; // need more bytes to know the length
          this.take(0, 'messages', 1);
          this.skip = len;
          break;
        }
        default:
          return;
      }
    }
  }

  /** Total length of a non-update server message, -1 when more bytes are needed, undefined when unknown. */
  private messageLength(b: Buffer): number | undefined {
    switch (b[0]) {
      case 1: // SetColourMapEntries
        return b.length < 6 ? -1 : 6 + 6 * b.readUInt16BE(4);
      case 2: // Bell
        return 1;
      case 3: // ServerCutText (a negative length is TigerVNC's extended clipboard)
        return b.length < 8 ? -1 : 8 + Math.abs(b.readInt32BE(4));
      case 150: // EndOfContinuousUpdates
        return 1;
      case 248: // ServerFence: type, 3 padding, flags (4), length (1), payload
        return b.length < 9 ? -1 : 9 + b[8]!;
      default:
        return undefined;
    }
  }

  private take(n: number, next: Phase, need: number): void {
    this.buf = this.buf.subarray(n);
    this.phase = next;
    this.need = need;
  }

  private finish(how: 'update' | 'unparsed'): void {
    this.phase = 'done';
    this.buf = Buffer.alloc(0);
    this.onFirstFrame(how);
  }
}
