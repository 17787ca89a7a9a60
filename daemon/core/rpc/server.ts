import { createServer, type Server, type Socket } from 'node:net';
import { JSONRPCServer, type JSONRPCRequest, type JSONRPCResponse } from 'json-rpc-2.0';
import { ErrorCode, MAX_BATCH_LENGTH, MAX_FRAME_BYTES, MAX_JSON_DEPTH, MAX_QUEUED_BYTES } from '../../../protocol/index.js';
import type { Logger } from '../log.js';
import { FrameDecoder, decodeUtf8, nestedDeeperThan } from './frames.js';
import { listenPrivate } from '../util/private-socket.js';

/** One client connection, as handlers see it. */
export interface Connection {
  readonly id: number;
  /** Send a JSON-RPC notification to this client; dropped silently once the connection is gone. */
  notify(method: string, params: unknown): void;
  close(): void;
  readonly closed: boolean;
  /** Run `fn` once when the connection is gone (at once when it already is); the returned function cancels that. */
  onClose(fn: () => void): () => void;
  /** Per-connection state that handlers may attach (e.g. event topics). */
  readonly data: Map<string, unknown>;
  /**
   * After the reply to the current request is sent, hand the raw socket to `upgrade.start` (e.g. an exec stream)
   * and stop reading JSON-RPC from it. Only for a single request, not inside a batch (then `cancel` runs).
   */
  upgradeAfterReply(upgrade: Upgrade): void;
}

export interface Upgrade {
  /** the socket is paused: resume it once listening for 'data' */
  start(sock: Socket, rest: Buffer): void;
  cancel(): void;
}

export type MethodHandler = (params: unknown, conn: Connection) => Promise<unknown>;

export interface RpcServerOptions {
  maxFrameBytes?: number;
  /** a client that does not read its replies is dropped past this much queued output */
  maxQueuedBytes?: number;
  /** requests of one connection being handled at once; reading pauses above this */
  maxInFlight?: number;
  /** bytes of frames of one connection being handled at once; reading pauses above this */
  maxInFlightBytes?: number;
  /** bytes of frames of all connections being handled at once; every reader pauses above this */
  maxTotalInFlightBytes?: number;
  maxConnections?: number;
  /** requests in one batch frame; a longer batch is refused whole */
  maxBatchLength?: number;
}

type Id = string | number | null;

function errorResponse(id: Id, code: number, message: string, data?: unknown): JSONRPCResponse {
  return data === undefined
    ? { jsonrpc: '2.0', id, error: { code, message } }
    : { jsonrpc: '2.0', id, error: { code, message, data } };
}

function isValidId(id: unknown): id is Id {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
}

/** Spec §4 checks the library leaves out: the envelope must be right before a method is looked up. */
function checkEnvelope(msg: unknown): { ok: true; req: JSONRPCRequest } | { ok: false; response: JSONRPCResponse } {
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
    return { ok: false, response: errorResponse(null, ErrorCode.InvalidRequest, 'Invalid Request') };
  }
  const m = msg as Record<string, unknown>;
  const id: Id = 'id' in m && isValidId(m.id) ? m.id : null;
  const bad = (why: string) => ({ ok: false as const, response: errorResponse(id, ErrorCode.InvalidRequest, 'Invalid Request', { reason: why }) });
  if (m.jsonrpc !== '2.0') return bad('"jsonrpc" must be exactly "2.0"');
  if (typeof m.method !== 'string') return bad('"method" must be a string');
  if ('id' in m && !isValidId(m.id)) return bad('"id" must be a string, a number or null');
  if ('params' in m && (typeof m.params !== 'object' || m.params === null)) return bad('"params" must be an object or an array');
  for (const k of Object.keys(m)) {
    if (!['jsonrpc', 'method', 'params', 'id'].includes(k)) return bad(`unexpected member "${k}"`);
  }
  return { ok: true, req: m as unknown as JSONRPCRequest };
}

/** What a frame turned out to be once parsed; decided synchronously so that a batch is counted before it runs. */
type Parsed = { kind: 'none' } | { kind: 'reply'; response: JSONRPCResponse } | { kind: 'garbage'; response: JSONRPCResponse; why: string } | { kind: 'one'; msg: unknown } | { kind: 'batch'; msgs: unknown[] };

/** The id an error reply to this element must carry (null where the element has no usable one). */
function replyId(msg: unknown): Id {
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return null;
  const id = (msg as Record<string, unknown>).id;
  return isValidId(id) ? id : null;
}

/**
 * Whether the JSON text of `value` is certainly longer than `limit` bytes, judged without building it: strings and
 * keys count at their length (never more than their UTF-8 bytes), and the walk stops once past the limit. A
 * reply that cannot fit is then refused without allocating the text only to throw it away.
 */
export function certainlyLonger(value: unknown, limit: number): boolean {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') size += v.length + 2;
    else if (typeof v === 'object' && v !== null) {
      if (Array.isArray(v)) {
        size += v.length + 1;
        for (const e of v) stack.push(e);
      } else {
        for (const [k, e] of Object.entries(v)) {
          size += k.length + 4;
          stack.push(e);
        }
      }
    } else size += 1;
    if (size > limit) return true;
  }
  return false;
}

/**
 * The JSON text of one message, or why it cannot be sent. JSON.stringify throws (RangeError) past V8's string
 * length limit and on values a handler should never return (cycles, BigInt); neither may escape.
 */
function serialize(msg: unknown): { ok: true; text: string; bytes: number } | { ok: false; reason: string; tooLong: boolean } {
  try {
    const text = JSON.stringify(msg);
    return { ok: true, text, bytes: Buffer.byteLength(text) };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? `${err.name}: ${err.message}` : String(err), tooLong: err instanceof RangeError };
  }
}

/**
 * JSON-RPC 2.0 over a Unix stream socket, one JSON text per line. Framing, envelope checks and error replies live
 * here; what methods do lives in the handlers.
 */
export class RpcServer {
  private readonly server: Server;
  // the library would print handler errors to the console; failures are logged by the dispatch layer instead
  private readonly rpc = new JSONRPCServer<Connection>({ errorListener: () => undefined });
  private readonly conns = new Set<Conn>();
  private nextId = 1;
  /** frames being handled across all connections, bounded so many clients together cannot grow the daemon */
  private totalInFlightBytes = 0;
  private readonly waiting = new Set<() => void>();
  private readonly opts: Required<RpcServerOptions>;

  constructor(
    private readonly log: Logger,
    handlers: Record<string, MethodHandler>,
    opts: RpcServerOptions = {},
  ) {
    this.opts = {
      maxFrameBytes: opts.maxFrameBytes ?? MAX_FRAME_BYTES,
      maxQueuedBytes: opts.maxQueuedBytes ?? MAX_QUEUED_BYTES,
      maxInFlight: opts.maxInFlight ?? 64,
      maxInFlightBytes: opts.maxInFlightBytes ?? 4 * 1024 * 1024,
      maxTotalInFlightBytes: opts.maxTotalInFlightBytes ?? 8 * 1024 * 1024,
      maxConnections: opts.maxConnections ?? 512,
      maxBatchLength: opts.maxBatchLength ?? MAX_BATCH_LENGTH,
    };
    for (const [name, handler] of Object.entries(handlers)) {
      this.rpc.addMethod(name, (params: unknown, conn: Connection) => handler(params, conn));
    }
    this.server = createServer((sock) => this.accept(sock));
    this.server.maxConnections = this.opts.maxConnections;
  }

  get connections(): ReadonlySet<Connection> {
    return this.conns;
  }

  /** Listen on `path`, a socket only the owner can connect to. */
  async listen(path: string): Promise<void> {
    await listenPrivate(this.server, path);
    this.server.on('error', (err) => this.log.error({ err: err.message }, 'socket server error'));
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.conns) c.close();
    await closed;
  }

  private accept(sock: Socket): void {
    const conn = new Conn(this.nextId++, sock, this.opts.maxQueuedBytes, this.opts.maxFrameBytes, this.log);
    this.conns.add(conn);
    const decoder = new FrameDecoder(this.opts.maxFrameBytes);
    conn.decoder = decoder;
    let inFlight = 0;
    let inFlightBytes = 0;
    const busy = () =>
      inFlight >= this.opts.maxInFlight || inFlightBytes >= this.opts.maxInFlightBytes || this.totalInFlightBytes >= this.opts.maxTotalInFlightBytes;
    const resume = () => {
      if (!busy() && !conn.closed && !conn.upgraded) {
        this.waiting.delete(resume);
        sock.resume();
      }
    };
    /** The last reply to a client that broke the framing or sent garbage: nothing more is read from it. */
    const refuse = (response: JSONRPCResponse, fields: Record<string, unknown>, msg: string) => {
      sock.off('data', onData);
      sock.pause();
      decoder.drain();
      conn.sendResponse(response);
      conn.end();
      this.log.warn({ conn: conn.id, ...fields }, msg);
    };
    const onData = (chunk: Buffer) => {
      const frames = decoder.push(chunk);
      if (frames === 'overflow') {
        // the rest of that frame would only be counted and thrown away
        refuse(errorResponse(null, ErrorCode.FrameTooLarge, `Frame exceeds ${this.opts.maxFrameBytes} bytes`), { limit: this.opts.maxFrameBytes }, 'frame too large; closing connection');
        return;
      }
      for (const frame of frames) {
        if (conn.closed || conn.upgraded) return;
        const parsed = this.parseFrame(frame);
        if (parsed.kind === 'none') continue;
        if (parsed.kind === 'garbage') {
          // no Tower client sends what is not JSON: whatever follows on this connection is not worth reading
          refuse(parsed.response, { why: parsed.why }, 'client sent garbage; closing connection');
          return;
        }
        // each request of a batch is work in flight like a request of its own
        const units = parsed.kind === 'batch' ? parsed.msgs.length : 1;
        inFlight += units;
        inFlightBytes += frame.length;
        this.totalInFlightBytes += frame.length;
        if (busy()) {
          sock.pause();
          this.waiting.add(resume);
        }
        void this.handleFrame(parsed, conn)
          .catch((err: unknown) => this.log.error({ conn: conn.id, err: err instanceof Error ? err.stack ?? err.message : String(err) }, 'request handling failed'))
          .finally(() => {
            inFlight -= units;
            inFlightBytes -= frame.length;
            this.totalInFlightBytes -= frame.length;
            // memory was freed: connections paused for the shared limit may read again
            for (const r of [...this.waiting]) r();
          });
      }
    };
    conn.onData = onData;
    sock.on('data', onData);
    sock.on('error', (err) => this.log.debug({ conn: conn.id, err: err.message }, 'client socket error'));
    sock.on('close', () => {
      conn.markClosed();
      this.waiting.delete(resume);
      this.conns.delete(conn);
    });
  }

  private parseFrame(frame: Buffer): Parsed {
    const text = decodeUtf8(frame);
    if (text === null) return { kind: 'garbage', why: 'not valid UTF-8', response: errorResponse(null, ErrorCode.ParseError, 'Parse error', { reason: 'frame is not valid UTF-8' }) };
    if (text.trim() === '') return { kind: 'none' };
    if (nestedDeeperThan(frame, MAX_JSON_DEPTH)) {
      return { kind: 'reply', response: errorResponse(null, ErrorCode.InvalidRequest, 'Invalid Request', { reason: `nested deeper than ${MAX_JSON_DEPTH} levels` }) };
    }
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return { kind: 'garbage', why: 'not JSON', response: errorResponse(null, ErrorCode.ParseError, 'Parse error') };
    }
    if (!Array.isArray(msg)) return { kind: 'one', msg };
    if (msg.length === 0) return { kind: 'reply', response: errorResponse(null, ErrorCode.InvalidRequest, 'Invalid Request', { reason: 'empty batch' }) };
    const max = this.opts.maxBatchLength;
    if (msg.length > max) {
      return { kind: 'reply', response: errorResponse(null, ErrorCode.InvalidRequest, 'Invalid Request', { reason: `batch of ${msg.length} requests; at most ${max}` }) };
    }
    return { kind: 'batch', msgs: msg };
  }

  private async handleFrame(parsed: Parsed, conn: Conn): Promise<void> {
    if (parsed.kind === 'none') return;
    if (parsed.kind === 'reply' || parsed.kind === 'garbage') {
      conn.sendResponse(parsed.response);
      return;
    }
    const msgs = parsed.kind === 'batch' ? parsed.msgs : [parsed.msg];
    const reply = conn.replyFor(msgs.map(replyId), parsed.kind === 'batch');
    if (!reply.fits) {
      // ids so long that not even the error replies would fit: run nothing, say so once
      conn.sendResponse(errorResponse(null, ErrorCode.ReplyTooLarge, `Reply exceeds ${conn.maxReplyBytes} bytes`));
      conn.cancelUpgrade();
      return;
    }
    // each reply is serialised as soon as it is there, so a batch holds at most one frame of replies at a time
    await Promise.all(msgs.map(async (m, i) => reply.done(i, await this.handleOne(m, conn))));
    const sent = conn.sendReply(reply);
    if (parsed.kind === 'one' && sent && reply.succeeded(0)) conn.startUpgrade();
    else conn.cancelUpgrade();
  }

  private async handleOne(msg: unknown, conn: Conn): Promise<JSONRPCResponse | null> {
    const checked = checkEnvelope(msg);
    if (!checked.ok) return checked.response;
    const reply = await this.rpc.receive(checked.req, conn);
    return reply;
  }
}

/**
 * The reply line to one frame (a single request or a batch), never longer than `maxBytes`. Each reply is
 * serialised as it arrives and the object let go; one that does not fit becomes a ReplyTooLarge error to its id.
 * Room for those errors is reserved from the start, so whatever order replies come in, every element gets one.
 */
export class ReplyBuilder {
  private readonly parts: (string | undefined)[];
  private readonly fallback: string[];
  private readonly fallbackBytes: number[];
  private readonly succeededAt: boolean[];
  private readonly overhead: number;
  private reserved = 0;
  private used = 0;
  /** replies replaced by an error, and why the first one was */
  refused = 0;
  why = '';

  constructor(
    private readonly ids: Id[],
    private readonly batch: boolean,
    readonly maxBytes: number,
  ) {
    this.parts = new Array<string | undefined>(ids.length);
    this.succeededAt = ids.map(() => false);
    this.fallback = ids.map((id) => JSON.stringify(errorResponse(id, ErrorCode.ReplyTooLarge, `Reply exceeds ${maxBytes} bytes`)));
    this.fallbackBytes = this.fallback.map((t) => Buffer.byteLength(t));
    for (const b of this.fallbackBytes) this.reserved += b;
    // brackets and commas of a batch
    this.overhead = batch ? ids.length + 1 : 0;
  }

  /** False when not even an error to every element would fit (ids that long); nothing should run then. */
  get fits(): boolean {
    return this.overhead + this.reserved <= this.maxBytes;
  }

  done(i: number, reply: JSONRPCResponse | null): void {
    this.reserved -= this.fallbackBytes[i]!;
    if (reply === null) return;
    const room = this.maxBytes - this.overhead - this.used - this.reserved;
    const s = certainlyLonger(reply, room) ? { ok: true as const, text: '', bytes: Infinity } : serialize(reply);
    if (s.ok && s.bytes <= room) {
      this.parts[i] = s.text;
      this.used += s.bytes;
      this.succeededAt[i] = 'result' in reply;
      return;
    }
    // a value JSON cannot express is a bug, not a size: say so (that text is shorter than the one reserved)
    const text = !s.ok && !s.tooLong ? JSON.stringify(errorResponse(this.ids[i]!, ErrorCode.InternalError, 'Internal error')) : this.fallback[i]!;
    this.parts[i] = text;
    this.used += Buffer.byteLength(text);
    if (this.refused++ === 0) this.why = !s.ok ? s.reason : Number.isFinite(s.bytes) ? `${s.bytes} bytes` : `over ${room} bytes`;
  }

  succeeded(i: number): boolean {
    return this.succeededAt[i] ?? false;
  }

  /**
   * The line to send, in pieces, or null when every element was a notification. Kept apart rather than joined:
   * joining a megabyte of replies copies it twice more before the socket copies it again.
   */
  pieces(): string[] | null {
    const parts = this.parts.filter((p): p is string => p !== undefined);
    if (parts.length === 0) return null;
    if (!this.batch) return [parts[0]!, '\n'];
    const out = ['['];
    parts.forEach((p, i) => out.push(i ? ',' : '', p));
    out.push(']\n');
    return out;
  }
}

class Conn implements Connection {
  readonly data = new Map<string, unknown>();
  private isClosed = false;
  private upgrade: Upgrade | undefined;
  upgraded = false;
  decoder: FrameDecoder | undefined;
  onData: ((chunk: Buffer) => void) | undefined;

  constructor(
    readonly id: number,
    private readonly sock: Socket,
    private readonly maxQueued: number,
    readonly maxReplyBytes: number,
    private readonly log: Logger,
  ) {}

  get closed(): boolean {
    return this.isClosed || this.sock.destroyed;
  }

  markClosed(): void {
    this.isClosed = true;
  }

  onClose(fn: () => void): () => void {
    if (this.closed) {
      queueMicrotask(fn);
      return () => undefined;
    }
    this.sock.once('close', fn);
    return () => void this.sock.off('close', fn);
  }

  replyFor(ids: Id[], batch: boolean): ReplyBuilder {
    return new ReplyBuilder(ids, batch, this.maxReplyBytes);
  }

  /** A reply decided without running anything (parse errors, refused batches). */
  sendResponse(response: JSONRPCResponse): void {
    let reply = this.replyFor([response.id], false);
    if (!reply.fits) {
      reply = this.replyFor([null], false);
      response = errorResponse(null, ErrorCode.ReplyTooLarge, `Reply exceeds ${this.maxReplyBytes} bytes`);
    }
    reply.done(0, response);
    this.sendReply(reply);
  }

  /** True when the reply went out (or was queued). */
  sendReply(reply: ReplyBuilder): boolean {
    // one line per frame, not per element: a batch must not turn into 64 log records
    if (reply.refused) this.log.warn({ conn: this.id, refused: reply.refused, limit: this.maxReplyBytes, why: reply.why }, 'reply too large or not serialisable; sent an error instead');
    const pieces = reply.pieces();
    return pieces !== null && this.write(pieces);
  }

  /** Notifications: one that cannot be serialised or is over the frame limit is dropped, not sent in part. */
  send(msg: unknown): void {
    if (this.closed || this.upgraded) return;
    const s = serialize(msg);
    if (!s.ok || s.bytes > this.maxReplyBytes) {
      const method = (msg as { method?: unknown }).method;
      this.log.warn({ conn: this.id, method: typeof method === 'string' ? method : undefined, limit: this.maxReplyBytes, why: s.ok ? `${s.bytes} bytes` : s.reason }, 'notification too large; not sent');
      return;
    }
    this.write([s.text, '\n']);
  }

  private write(pieces: string[]): boolean {
    if (this.closed || this.upgraded) return false;
    const queued = this.sock.writableLength;
    if (queued > this.maxQueued) {
      // closed before anything is logged: the log record is an event this very client may be subscribed to
      this.close();
      this.log.warn({ conn: this.id, queued, limit: this.maxQueued }, 'client is not reading; dropped it');
      return false;
    }
    let length = 0;
    for (const p of pieces) length += p.length;
    // corked, so that large pieces leave in one writev; small ones are cheaper joined
    this.sock.cork();
    try {
      if (length < 16 * 1024) this.sock.write(pieces.join(''));
      else for (const p of pieces) if (p) this.sock.write(p);
      return true;
    } catch (err) {
      this.close();
      this.log.warn({ conn: this.id, err: err instanceof Error ? err.message : String(err) }, 'cannot write to client; dropped it');
      return false;
    } finally {
      this.sock.uncork();
    }
  }

  upgradeAfterReply(upgrade: Upgrade): void {
    this.upgrade?.cancel();
    this.upgrade = upgrade;
  }

  startUpgrade(): void {
    const u = this.upgrade;
    this.upgrade = undefined;
    if (!u) return;
    if (this.closed) return u.cancel();
    this.upgraded = true;
    // paused until the new owner listens: a flowing socket without a 'data' listener drops what arrives
    this.sock.pause();
    if (this.onData) this.sock.off('data', this.onData);
    u.start(this.sock, this.decoder?.drain() ?? Buffer.alloc(0));
  }

  cancelUpgrade(): void {
    const u = this.upgrade;
    this.upgrade = undefined;
    u?.cancel();
  }

  notify(method: string, params: unknown): void {
    if (this.upgraded) return;
    this.send({ jsonrpc: '2.0', method, params });
  }

  end(): void {
    this.isClosed = true;
    this.sock.end();
    this.sock.destroySoon();
  }

  close(): void {
    this.isClosed = true;
    this.sock.destroy();
  }
}
