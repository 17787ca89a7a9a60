import { createConnection, type Socket } from 'node:net';
import { JSONRPCClient, JSONRPCErrorException } from 'json-rpc-2.0';
import { EVENT_METHOD, MAX_FRAME_BYTES } from '../protocol/constants.js';
import type { Event, MethodName, ParamsIn, Result, Topic } from '../protocol/index.js';

/**
 * The protocol's schemas, loaded on first use. One-shot commands skip them: building them costs more than the
 * rest of a `towerctl status` start, and towerd checked each result against the same schema before sending it.
 * Subscriptions (long-lived clients) and callers that ask for it validate everything they receive.
 */
type Schemas = typeof import('../protocol/index.js');
let schemas: Promise<Schemas> | undefined;
function loadSchemas(): Promise<Schemas> {
  schemas ??= import('../protocol/index.js');
  return schemas;
}

export interface ConnectOptions {
  timeoutMs?: number;
  /** check every result against the protocol schema (events are always checked) */
  validate?: boolean;
}

/** towerd is not running, or its socket cannot be opened. */
export class DaemonUnreachableError extends Error {
  constructor(
    readonly socketPath: string,
    readonly reason: string,
  ) {
    super(`cannot reach towerd at ${socketPath} (${reason})`);
  }
}

/** towerd answered with an error. */
export class RemoteError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** The connection closed before a reply came. */
export class ConnectionLostError extends Error {}

/** A typed JSON-RPC client for towerd: one socket, request/response plus pushed events. */
export class TowerClient {
  private readonly rpc: JSONRPCClient;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** set while a request that switches the connection to a byte stream waits for its reply */
  private upgrading: { id: number; done: (rest: Buffer) => void } | undefined;
  private readonly eventListeners = new Set<(e: Event) => void>();
  private readonly closeListeners = new Set<(err?: Error) => void>();
  private closed = false;
  private eventSchema: Schemas['Event'] | undefined;

  private constructor(
    private readonly sock: Socket,
    private readonly validate: boolean,
  ) {
    this.rpc = new JSONRPCClient((req) => {
      if (this.closed) return Promise.reject(new ConnectionLostError('connection to towerd is closed'));
      sock.write(JSON.stringify(req) + '\n');
      return Promise.resolve();
    });
    sock.on('data', this.dataListener);
    const end = (err?: Error) => {
      if (this.closed) return;
      this.closed = true;
      this.rpc.rejectAllPendingRequests('connection to towerd closed');
      for (const l of this.closeListeners) l(err);
    };
    sock.on('close', () => end());
    sock.on('error', (err) => end(err));
  }

  static connect(socketPath: string, { timeoutMs = 5000, validate = false }: ConnectOptions = {}): Promise<TowerClient> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(socketPath);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new DaemonUnreachableError(socketPath, 'timed out'));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        resolve(new TowerClient(sock, validate));
      });
      sock.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const reason =
          err.code === 'ENOENT' ? 'no socket: towerd is not running' : err.code === 'ECONNREFUSED' ? 'nobody is listening' : err.code ?? err.message;
        reject(new DaemonUnreachableError(socketPath, reason));
      });
    });
  }

  private onData(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const line = Buffer.concat([...this.chunks, chunk.subarray(start, nl)]).toString('utf8');
      this.chunks = [];
      this.buffered = 0;
      start = nl + 1;
      if (line.trim()) this.onMessage(line);
      const up = this.upgrading;
      if (up && this.sawReply(up.id)) {
        // everything after this reply belongs to the stream
        this.upgrading = undefined;
        // paused until the stream's reader listens, or bytes arriving in between would be dropped
        this.sock.pause();
        this.sock.off('data', this.dataListener);
        up.done(chunk.subarray(start));
        return;
      }
    }
    if (start < chunk.length) {
      this.chunks.push(chunk.subarray(start));
      this.buffered += chunk.length - start;
      if (this.buffered > MAX_FRAME_BYTES * 4) this.sock.destroy(new Error('reply from towerd exceeds the frame limit'));
    }
  }

  private readonly replied = new Set<number>();
  private readonly dataListener = (chunk: Buffer) => this.onData(chunk);

  private sawReply(id: number): boolean {
    return this.replied.delete(id);
  }

  private onMessage(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      return; // towerd only sends JSON; nothing useful can be done with a broken line
    }
    if (typeof msg === 'object' && msg !== null && 'method' in msg && !('id' in msg)) {
      const m = msg as { method: unknown; params: unknown };
      if (m.method !== EVENT_METHOD || !this.eventSchema) return;
      const ev = this.eventSchema.safeParse(m.params);
      if (ev.success) for (const l of this.eventListeners) l(ev.data);
      return;
    }
    if (this.upgrading && typeof msg === 'object' && msg !== null && (msg as { id?: unknown }).id === this.upgrading.id) this.replied.add(this.upgrading.id);
    this.rpc.receive(msg as Parameters<JSONRPCClient['receive']>[0]);
  }

  /**
   * Call a method after whose reply the connection becomes a byte stream (exec.run). Resolves with the result,
   * the raw socket (paused: resume it once listening) and the bytes that arrived after the reply; this client
   * must not be used for calls afterwards.
   */
  async upgrade<M extends MethodName>(method: M, params: ParamsIn<M>): Promise<{ result: Result<M>; sock: Socket; rest: Buffer }> {
    const id = this.nextUpgradeId++;
    let rest: Buffer = Buffer.alloc(0);
    const switched = new Promise<void>((resolve) => {
      this.upgrading = {
        id,
        done: (r) => {
          rest = r;
          resolve();
        },
      };
    });
    let raw: unknown;
    try {
      raw = await this.rpc.requestAdvanced({ jsonrpc: '2.0', id, method, params }).then((r) => {
        if (r.error) throw new RemoteError(r.error.code, r.error.message, r.error.data);
        return r.result as unknown;
      });
    } catch (err) {
      this.upgrading = undefined;
      if (err instanceof RemoteError) throw err;
      if (this.closed) throw new ConnectionLostError('towerd closed the connection');
      throw err;
    }
    await switched;
    return { result: raw as Result<M>, sock: this.sock, rest };
  }

  private nextUpgradeId = 1_000_000;

  /** Call a method; the result is checked against the protocol schema before it is returned. */
  async call<M extends MethodName>(method: M, params: ParamsIn<M> = {} as ParamsIn<M>): Promise<Result<M>> {
    let raw: unknown;
    try {
      raw = await this.rpc.request(method, params);
    } catch (err) {
      if (err instanceof JSONRPCErrorException) throw new RemoteError(err.code, err.message, err.data);
      if (this.closed) throw new ConnectionLostError('towerd closed the connection');
      throw err;
    }
    if (!this.validate) return raw as Result<M>;
    const { methods } = await loadSchemas();
    const parsed = methods[method].result.safeParse(raw);
    if (!parsed.success) throw new RemoteError(-32603, `towerd sent a ${method} result this client does not understand`);
    return parsed.data as Result<M>;
  }

  async subscribe(topics: Topic[], onEvent: (e: Event) => void): Promise<void> {
    this.eventSchema ??= (await loadSchemas()).Event;
    this.eventListeners.add(onEvent);
    await this.call('events.subscribe', { topics });
  }

  onClose(fn: (err?: Error) => void): void {
    this.closeListeners.add(fn);
  }

  close(): void {
    this.closed = true;
    this.sock.end();
    this.sock.destroy();
  }
}
