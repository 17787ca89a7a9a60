import { createServer, type Server, type Socket } from 'node:net';
import { JSONRPCServer, type JSONRPCRequest, type JSONRPCResponse } from 'json-rpc-2.0';
import { ErrorCode, MAX_FRAME_BYTES } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import { FrameDecoder, decodeUtf8 } from './frames.js';
import { listenPrivate } from '../util/private-socket.js';

/** One client connection, as handlers see it. */
export interface Connection {
  readonly id: number;
  /** Send a JSON-RPC notification to this client; dropped silently once the connection is gone. */
  notify(method: string, params: unknown): void;
  close(): void;
  readonly closed: boolean;
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
      maxQueuedBytes: opts.maxQueuedBytes ?? 16 * 1024 * 1024,
      maxInFlight: opts.maxInFlight ?? 64,
      maxInFlightBytes: opts.maxInFlightBytes ?? 4 * 1024 * 1024,
      maxTotalInFlightBytes: opts.maxTotalInFlightBytes ?? 8 * 1024 * 1024,
      maxConnections: opts.maxConnections ?? 512,
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
    const conn = new Conn(this.nextId++, sock, this.opts.maxQueuedBytes, this.log);
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
    const onData = (chunk: Buffer) => {
      const frames = decoder.push(chunk);
      if (frames === 'overflow') {
        this.log.warn({ conn: conn.id, limit: this.opts.maxFrameBytes }, 'frame too large; closing connection');
        conn.send(errorResponse(null, ErrorCode.FrameTooLarge, `Frame exceeds ${this.opts.maxFrameBytes} bytes`));
        conn.end();
        return;
      }
      for (const frame of frames) {
        inFlight++;
        inFlightBytes += frame.length;
        this.totalInFlightBytes += frame.length;
        if (busy()) {
          sock.pause();
          this.waiting.add(resume);
        }
        void this.handleFrame(frame, conn).finally(() => {
          inFlight--;
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

  private async handleFrame(frame: Buffer, conn: Conn): Promise<void> {
    const text = decodeUtf8(frame);
    if (text === null) {
      conn.send(errorResponse(null, ErrorCode.ParseError, 'Parse error', { reason: 'frame is not valid UTF-8' }));
      return;
    }
    if (text.trim() === '') return;
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      conn.send(errorResponse(null, ErrorCode.ParseError, 'Parse error'));
      return;
    }
    if (Array.isArray(msg)) {
      if (msg.length === 0) {
        conn.send(errorResponse(null, ErrorCode.InvalidRequest, 'Invalid Request', { reason: 'empty batch' }));
        return;
      }
      const replies = (await Promise.all(msg.map((m) => this.handleOne(m, conn)))).filter((r): r is JSONRPCResponse => r !== null);
      if (replies.length) conn.send(replies);
      conn.cancelUpgrade();
      return;
    }
    const reply = await this.handleOne(msg, conn);
    if (reply) conn.send(reply);
    if (reply && 'result' in reply) conn.startUpgrade();
    else conn.cancelUpgrade();
  }

  private async handleOne(msg: unknown, conn: Conn): Promise<JSONRPCResponse | null> {
    const checked = checkEnvelope(msg);
    if (!checked.ok) return checked.response;
    const reply = await this.rpc.receive(checked.req, conn);
    return reply;
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
    private readonly log: Logger,
  ) {}

  get closed(): boolean {
    return this.isClosed || this.sock.destroyed;
  }

  markClosed(): void {
    this.isClosed = true;
  }

  send(msg: unknown): void {
    if (this.closed || this.upgraded) return;
    if (this.sock.writableLength > this.maxQueued) {
      this.log.warn({ conn: this.id, queued: this.sock.writableLength }, 'client is not reading; dropping it');
      this.sock.destroy();
      return;
    }
    this.sock.write(JSON.stringify(msg) + '\n');
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
