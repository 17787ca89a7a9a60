import { createServer, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { splice } from '../../../core/forwards/splice.js';
import { ChunkedCounter, FORWARDED_REQUEST_FIELDS, HeadReader, HttpError, MAX_HEAD, bodyLength, parseHead, parseRequestLine, parseStatusLine, plainResponse, tokens, type Head } from './http.js';
import { checkConnect, checkUpstream, parseAuthority, sameHost, type RelayRule } from './policy.js';
import { TlsError, readClientHello } from './tls.js';

/** One line of the relay's audit trail: what a host fetched or was refused. Never the payload. */
export interface RelayAudit {
  host: string;
  kind: 'fetch' | 'tunnel' | 'refused' | 'failed';
  method: string;
  target: string;
  status?: number;
  /** bytes received from the upstream: a body's payload, or all a tunnel carried towards the host */
  bytes: number;
  /** bytes sent upstream: the request head as passed on, or all the host sent into a tunnel */
  sent: number;
  reason?: string;
}

/** What CONNECT may do (towerd.json packages.relay). */
export interface ConnectPolicy {
  enabled: boolean;
  ports: readonly number[];
  /** a tunnel is cut after this long, or once this many bytes went through (both ways), or the host sent this many */
  maxMs: number;
  maxBytes: number;
  maxUploadBytes: number;
}

export interface RelayOptions {
  /** the host whose requests this proxy serves (for the audit trail) */
  hostName: string;
  rules: () => readonly RelayRule[];
  connect: () => ConnectPolicy;
  /** open a byte stream to host:port from the router (a direct-tcpip channel over its SSH connection) */
  dial(host: string, port: number): Promise<Duplex>;
  audit(a: RelayAudit): void;
}

/** Header fields that belong to one hop and are never passed on (plus those a Connection field names). */
const HOP_FIELDS = new Set(['connection', 'proxy-connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'upgrade', 'expect']);
/** A client must send a complete request head within this (and an idle kept-alive connection is closed after it). */
export const HEAD_TIMEOUT_MS = 30_000;
/** After a refusal, how long the client gets to read the answer and close before the connection is dropped. */
const LINGER_MS = 1000;

/**
 * An HTTP proxy (absolute-form GET/HEAD and CONNECT) for one host's package manager. It is not a cache and not an
 * open proxy: each request is checked against the allow-list, and upstream connections are opened through the
 * router, never from the thin client's own network.
 *
 * It serves any byte stream (`handle`): in towerd, the SSH channels of the host's remote forward, with no socket
 * in between. It reads only request and response heads; a GET's request line is rewritten to origin-form and
 * the answer's body is passed through unchanged, chunk by chunk, with its length counted for the audit. A
 * connection carries any number of requests (pipelined too, answered in order); each request gets its own
 * upstream connection.
 */
export class RelayProxy {
  /** A listener for the proxy on a socket of its own (tests, benchmarks); towerd uses `handle`. */
  readonly server: Server;
  private readonly conns = new Set<Conn>();

  constructor(private readonly opts: RelayOptions) {
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.handle(s));
  }

  /** Serve one client connection until it closes. */
  handle(client: Duplex): void {
    const c: Conn = new Conn(this.opts, client, () => this.conns.delete(c));
    this.conns.add(c);
  }

  /** Client connections open now. */
  get connections(): number {
    return this.conns.size;
  }

  /** Drop every connection, with its upstream. */
  closeAll(): void {
    for (const c of [...this.conns]) c.destroy();
  }
}

type Framing = { kind: 'none' } | { kind: 'length'; left: number } | { kind: 'chunked'; counter: ChunkedCounter } | { kind: 'close' };

/** One request being answered. */
interface Exchange {
  method: string;
  target: string;
  /** `host:port` of the upstream, for reusing its connection */
  key: string;
  /** the URL's host (and port if not the default), for messages */
  authority: string;
  /** the request as sent upstream */
  request: string;
  upstream?: Duplex;
  /** our listeners on `upstream`, removed when the exchange is over (the stream may serve the next one) */
  detach?: () => void;
  /** the upstream connection served an earlier request: if it closes before answering, the request is sent again once on a new one */
  reused: boolean;
  /** whether the client connection stays open for another request afterwards */
  keepAlive: boolean;
  /** whether the upstream connection may serve another request afterwards */
  upstreamKeepAlive: boolean;
  reader: HeadReader;
  status: number;
  framing?: Framing;
  bytes: number;
  sent: number;
}

/** An upstream connection between requests, kept for the next request of the same client to the same host and port. */
interface Idle {
  key: string;
  upstream: Duplex;
  detach: () => void;
}

class Conn {
  private readonly reader = new HeadReader();
  /** bytes that arrived while a request was being answered (pipelined requests), in order */
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private current: Exchange | undefined;
  private idle: Idle | undefined;
  /** set while a request is being handled (from its head until its answer is complete) */
  private busy = false;
  private clientEnded = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: RelayOptions,
    private readonly client: Duplex,
    private readonly gone: () => void,
  ) {
    client.on('data', this.onData);
    client.on('end', this.onEnd);
    client.on('drain', this.onDrain);
    client.on('error', () => this.destroy());
    client.on('close', () => this.destroy());
    this.arm();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.closed) return;
    if (this.busy) {
      this.queued.push(chunk);
      this.queuedBytes += chunk.length;
      // a client may pipeline requests, not flood: stop reading until the queue is worked off
      if (this.queuedBytes > MAX_HEAD) this.client.pause();
      return;
    }
    this.consume(chunk);
  };

  private readonly onEnd = (): void => {
    this.clientEnded = true;
    if (!this.busy && !this.closed) this.endQuietly();
  };

  private readonly onDrain = (): void => {
    this.current?.upstream?.resume();
  };

  private audit(a: Omit<RelayAudit, 'host'>): void {
    this.opts.audit({ host: this.opts.hostName, ...a });
  }

  /** Waiting for a request head: a stalled or idle client does not hold the connection forever. */
  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.busy || this.closed) return;
      if (this.reader.pending > 0) this.closeWith(408, 'the request head did not arrive in time\n');
      else this.endQuietly();
    }, HEAD_TIMEOUT_MS);
    this.timer.unref?.();
  }

  private consume(chunk: Buffer): void {
    let got: { head: Buffer; rest: Buffer } | null;
    try {
      got = this.reader.push(chunk);
    } catch (err) {
      return this.refuse((err as HttpError).status, '-', '', (err as Error).message);
    }
    if (!got) return;
    clearTimeout(this.timer);
    this.busy = true;
    if (got.rest.length) {
      this.queued.unshift(got.rest);
      this.queuedBytes += got.rest.length;
    }
    // nothing in there should throw; if it does, this connection goes, never the daemon
    this.request(got.head).catch(() => this.destroy());
  }

  /** Requests that arrived during the last answer, then reading resumes. */
  private next(): void {
    this.busy = false;
    this.arm();
    while (!this.busy && !this.closed && this.queued.length) {
      const chunk = this.queued.shift()!;
      this.queuedBytes -= chunk.length;
      this.consume(chunk);
    }
    if (this.closed || this.busy) return;
    this.client.resume();
    if (this.clientEnded) this.endQuietly();
  }

  private async request(bytes: Buffer): Promise<void> {
    let head: Head;
    let line: ReturnType<typeof parseRequestLine>;
    try {
      head = parseHead(bytes);
      line = parseRequestLine(head.start);
    } catch (err) {
      const e = err as HttpError;
      return this.refuse(e.status, '-', '', e.message);
    }
    const { method, target } = line;
    // a request with a body is never relayed, so no coding can be right; an empty or odd one is where
    // proxies and servers disagree about where a message ends
    if (head.fields.some(([k]) => k === 'transfer-encoding')) return this.refuse(400, method, target, 'Transfer-Encoding is not accepted on a request');
    if (method === 'CONNECT') return this.connect(target);
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return this.refuse(403, method, target, 'a proxy request needs an absolute http:// URL');
    }
    if (url.protocol !== 'http:') return this.refuse(403, method, target, `${url.protocol} is not relayed (use CONNECT for https)`);
    if (method !== 'GET' && method !== 'HEAD') return this.refuse(403, method, target, 'only GET and HEAD are relayed');
    if (url.username || url.password) return this.refuse(403, method, target, 'credentials in URLs are not relayed');
    let length: ReturnType<typeof bodyLength>;
    try {
      length = bodyLength(head.fields, 400);
    } catch (err) {
      return this.refuse(400, method, target, (err as Error).message);
    }
    if (length !== null && length !== 0) return this.refuse(400, method, target, 'request bodies are not relayed');
    const port = url.port ? Number(url.port) : 80;
    const verdict = checkUpstream(this.opts.rules(), url.hostname, port);
    if (!verdict.ok) return this.refuse(403, method, target, verdict.reason);

    const connTokens = tokens(head.fields, 'connection');
    const keepAlive = line.minor === 1 ? !connTokens.includes('close') : connTokens.includes('keep-alive');
    // origin-form towards the repository; HTTP/1.1 connections upstream are kept for the client's next request
    let out = `${method} ${url.pathname}${url.search} HTTP/1.${line.minor}\r\nhost: ${url.host}\r\n`;
    for (const [k, v] of head.fields) if (FORWARDED_REQUEST_FIELDS.has(k) && !connTokens.includes(k)) out += `${k}: ${v}\r\n`;
    const reusable = line.minor === 1 && keepAlive;
    out += reusable ? '\r\n' : 'connection: close\r\n\r\n';
    const key = `${url.hostname}:${port}`;
    const ex: Exchange = { method, target, key, authority: url.host, request: out, reused: false, keepAlive, upstreamKeepAlive: reusable, reader: new HeadReader(4 * MAX_HEAD), status: 0, bytes: 0, sent: 0 };
    this.current = ex;
    const idle = this.takeIdle(key);
    if (idle) {
      ex.reused = true;
      return this.send(ex, idle);
    }
    await this.dialAndSend(ex, url.hostname, port);
  }

  /** The kept upstream connection if it goes to `key`; any other is closed. */
  private takeIdle(key: string): Duplex | undefined {
    const idle = this.idle;
    this.idle = undefined;
    if (!idle) return undefined;
    idle.detach();
    if (idle.key === key && !idle.upstream.destroyed && idle.upstream.readable && idle.upstream.writable) return idle.upstream;
    idle.upstream.destroy();
    return undefined;
  }

  private async dialAndSend(ex: Exchange, host: string, port: number): Promise<void> {
    let upstream: Duplex;
    try {
      upstream = await this.opts.dial(host, port);
    } catch (err) {
      if (this.current !== ex) return;
      this.current = undefined;
      this.audit({ kind: 'failed', method: ex.method, target: ex.target, bytes: 0, sent: ex.sent, reason: (err as Error).message });
      return this.closeWith(502, `Tower relay could not reach ${ex.authority}: ${(err as Error).message}\n`);
    }
    // errors after we stopped listening (the connection is being closed) must not go unhandled
    upstream.on('error', () => undefined);
    if (this.closed || this.current !== ex) {
      upstream.destroy();
      return;
    }
    this.send(ex, upstream);
  }

  private send(ex: Exchange, upstream: Duplex): void {
    ex.upstream = upstream;
    const onData = (b: Buffer) => this.fromUpstream(ex, b);
    const onEnd = () => this.upstreamEnded(ex);
    const onError = (err: Error) => this.upstreamFailed(ex, err.message);
    const onClose = () => this.upstreamFailed(ex, 'the upstream connection closed');
    upstream.on('data', onData);
    upstream.on('end', onEnd);
    upstream.on('error', onError);
    upstream.on('close', onClose);
    ex.detach = () => {
      upstream.off('data', onData);
      upstream.off('end', onEnd);
      upstream.off('error', onError);
      upstream.off('close', onClose);
    };
    upstream.write(ex.request, 'latin1');
    ex.sent += ex.request.length;
    upstream.resume();
  }

  private fromUpstream(ex: Exchange, chunk: Buffer): void {
    if (this.current !== ex) return;
    if (!ex.framing) {
      let got: { head: Buffer; rest: Buffer } | null;
      try {
        got = ex.reader.push(chunk);
        if (!got) return;
        this.answer(ex, parseHead(got.head));
      } catch (err) {
        return this.upstreamFailed(ex, (err as Error).message);
      }
      if (this.current !== ex) return;
      // an interim answer (1xx) is followed by the real one
      if (!ex.framing) return got.rest.length ? this.fromUpstream(ex, got.rest) : undefined;
      chunk = got.rest;
      if (!chunk.length) return this.checkDone(ex);
    }
    const f = ex.framing;
    let body = chunk;
    if (f.kind === 'length') {
      if (chunk.length > f.left) {
        body = chunk.subarray(0, f.left);
        ex.upstreamKeepAlive = false;
      }
      f.left -= body.length;
      ex.bytes += body.length;
    } else if (f.kind === 'chunked') {
      let used: number;
      try {
        used = f.counter.feed(chunk);
      } catch (err) {
        return this.upstreamFailed(ex, (err as Error).message);
      }
      if (used < chunk.length) {
        body = chunk.subarray(0, used);
        ex.upstreamKeepAlive = false;
      }
      ex.bytes = f.counter.payload;
    } else if (f.kind === 'close') ex.bytes += chunk.length;
    else {
      body = chunk.subarray(0, 0);
      if (chunk.length) ex.upstreamKeepAlive = false;
    }
    if (body.length && !this.client.write(body)) ex.upstream?.pause();
    this.checkDone(ex);
  }

  /** The upstream's answer head: pass it on with this hop's fields of our own, and learn how its body ends. */
  private answer(ex: Exchange, head: Head): void {
    const { status, reason, minor } = parseStatusLine(head.start);
    if (status < 200 && status !== 101) {
      ex.reader.reset();
      return;
    }
    if (status === 101) throw new HttpError(502, 'the upstream switched protocols');
    ex.status = status;
    const noBody = ex.method === 'HEAD' || status === 204 || status === 304;
    const length = noBody ? 0 : bodyLength(head.fields, 502);
    const framing: Framing =
      length === 0 ? { kind: 'none' } : typeof length === 'number' ? { kind: 'length', left: length } : length === 'chunked' ? { kind: 'chunked', counter: new ChunkedCounter() } : { kind: 'close' };
    if (framing.kind === 'close') ex.keepAlive = false;
    const connTokens = tokens(head.fields, 'connection');
    if (framing.kind === 'close' || minor !== 1 || connTokens.includes('close')) ex.upstreamKeepAlive = false;
    let out = `HTTP/1.1 ${status} ${reason}\r\n`;
    for (const [k, v] of head.fields) if (!HOP_FIELDS.has(k) && !connTokens.includes(k)) out += `${k}: ${v}\r\n`;
    out += ex.keepAlive ? 'connection: keep-alive\r\n\r\n' : 'connection: close\r\n\r\n';
    ex.framing = framing;
    this.client.write(out, 'latin1');
  }

  private checkDone(ex: Exchange): void {
    const f = ex.framing;
    if (!f) return;
    if (f.kind === 'none' || (f.kind === 'length' && f.left === 0) || (f.kind === 'chunked' && f.counter.done)) this.complete(ex);
  }

  private upstreamEnded(ex: Exchange): void {
    if (this.current !== ex) return;
    if (ex.framing?.kind === 'close') return this.complete(ex);
    this.upstreamFailed(ex, ex.framing ? 'the upstream closed before the end of its answer' : 'the upstream closed without an answer');
  }

  private upstreamFailed(ex: Exchange, reason: string): void {
    if (this.current !== ex) return;
    ex.detach?.();
    ex.upstream?.destroy();
    if (ex.reused && !ex.framing && ex.reader.pending === 0) {
      // a kept connection the upstream closed meanwhile: GET and HEAD may be sent again, on a new one
      ex.reused = false;
      const [host, port] = [ex.key.slice(0, ex.key.lastIndexOf(':')), Number(ex.key.slice(ex.key.lastIndexOf(':') + 1))];
      this.dialAndSend(ex, host, port).catch(() => this.destroy());
      return;
    }
    this.current = undefined;
    this.audit({ kind: 'failed', method: ex.method, target: ex.target, bytes: ex.bytes, sent: ex.sent, reason });
    // before the answer began the client can still be told; after, the only honest signal is a cut connection
    if (!ex.framing) this.closeWith(502, `Tower relay: ${reason}\n`);
    else this.destroy();
  }

  private complete(ex: Exchange): void {
    this.current = undefined;
    ex.detach?.();
    const up = ex.upstream;
    if (up && ex.keepAlive && ex.upstreamKeepAlive) this.park(ex.key, up);
    else up?.destroy();
    this.audit({ kind: 'fetch', method: ex.method, target: ex.target, status: ex.status, bytes: ex.bytes, sent: ex.sent });
    if (!ex.keepAlive) return this.endQuietly();
    this.next();
  }

  /** Keep an upstream connection for the next request; anything it does meanwhile (data, end, error) closes it. */
  private park(key: string, upstream: Duplex): void {
    const drop = () => {
      if (this.idle?.upstream !== upstream) return;
      this.idle.detach();
      this.idle = undefined;
      upstream.destroy();
    };
    upstream.on('data', drop);
    upstream.on('end', drop);
    upstream.on('error', drop);
    upstream.on('close', drop);
    const detach = () => {
      upstream.off('data', drop);
      upstream.off('end', drop);
      upstream.off('error', drop);
      upstream.off('close', drop);
    };
    this.idle = { key, upstream, detach };
    // it may have been paused for backpressure: an end or stray data must be noticed
    upstream.resume();
  }

  /**
   * CONNECT: a TLS tunnel to an allowed host on a CONNECT port. The client's ClientHello is read first (after the
   * 200, as clients send it only then) and must name that same host; only then is the upstream dialled and the
   * bytes spliced. Inside, the relay sees nothing, so each tunnel is bounded in time and bytes, both ways counted.
   */
  private async connect(target: string): Promise<void> {
    const policy = this.opts.connect();
    if (!policy.enabled) return this.refuse(403, 'CONNECT', target, 'CONNECT is switched off in the relay settings');
    const auth = parseAuthority(target);
    if (!auth) return this.refuse(403, 'CONNECT', target, 'CONNECT needs host:port');
    const verdict = checkConnect(this.opts.rules(), policy.ports, auth.host, auth.port);
    if (!verdict.ok) return this.refuse(403, 'CONNECT', target, verdict.reason);
    // from here on the connection is a byte tunnel: no more HTTP
    this.takeIdle('');
    this.client.removeListener('data', this.onData);
    this.client.removeListener('end', this.onEnd);
    this.client.removeListener('drain', this.onDrain);
    clearTimeout(this.timer);
    const early = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    this.client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    const hello = await this.readHello(early);
    const refuseTunnel = (kind: 'refused' | 'failed', reason: string): void => {
      hello.stop();
      this.audit({ kind, method: 'CONNECT', target, bytes: 0, sent: 0, reason });
      this.destroy();
    };
    if (!hello.ok) return refuseTunnel(hello.kind, hello.reason);
    if (this.closed) return;
    if (hello.serverName === null) return refuseTunnel('refused', `the TLS ClientHello names no server (it must name ${auth.host})`);
    if (!sameHost(hello.serverName, auth.host)) return refuseTunnel('refused', `the TLS ClientHello names ${hello.serverName}, not ${auth.host}`);
    let upstream: Duplex;
    try {
      upstream = await this.opts.dial(auth.host, auth.port);
    } catch (err) {
      return refuseTunnel('failed', (err as Error).message);
    }
    if (this.closed) {
      upstream.destroy();
      return;
    }
    // errors after we stopped listening (the tunnel is being closed) must not go unhandled
    upstream.on('error', () => undefined);
    // what arrived so far (the ClientHello, and anything after it) goes first; from then on, splice
    const pending = hello.stop();
    let sent = 0;
    let received = 0;
    let cutReason: string | undefined;
    const cut = (reason: string): void => {
      if (cutReason !== undefined) return;
      cutReason = reason;
      this.client.destroy();
      upstream.destroy();
    };
    const check = (): void => {
      if (sent > policy.maxUploadBytes) cut(`the host sent more than ${policy.maxUploadBytes} bytes into the tunnel`);
      else if (sent + received > policy.maxBytes) cut(`the tunnel carried more than ${policy.maxBytes} bytes`);
    };
    for (const b of pending.chunks) {
      upstream.write(b);
      sent += b.length;
    }
    if (pending.ended) upstream.end();
    const life = setTimeout(() => cut(`the tunnel reached its lifetime of ${Math.round(policy.maxMs / 1000)} s`), policy.maxMs);
    life.unref?.();
    splice(
      this.client,
      upstream,
      {
        toHost: (n) => {
          sent += n;
          check();
        },
        fromHost: (n) => {
          received += n;
          check();
        },
      },
      () => {
        clearTimeout(life);
        this.audit({ kind: 'tunnel', method: 'CONNECT', target, bytes: received, sent, ...(cutReason === undefined ? {} : { reason: cutReason }) });
        this.destroy();
      },
    );
    this.client.resume();
  }

  /**
   * Collect the client's first bytes in the tunnel until they hold a whole ClientHello. Bytes keep being
   * collected (and held, within the ClientHello's bound plus one read) until `stop`, which hands them over.
   */
  private readHello(early: Buffer[]): Promise<
    ({ ok: true; serverName: string | null } | { ok: false; kind: 'refused' | 'failed'; reason: string }) & { stop(): { chunks: Buffer[]; ended: boolean } }
  > {
    return new Promise((resolve) => {
      const chunks = [...early];
      let ended = false;
      let settled = false;
      const stop = (): { chunks: Buffer[]; ended: boolean } => {
        clearTimeout(timer);
        this.client.removeListener('data', onData);
        this.client.removeListener('end', onEnd);
        this.client.removeListener('close', onClose);
        this.client.pause();
        return { chunks, ended };
      };
      const settle = (r: { ok: true; serverName: string | null } | { ok: false; kind: 'refused' | 'failed'; reason: string }): void => {
        if (settled) return;
        settled = true;
        // nothing more is needed from the client until the upstream is there
        this.client.pause();
        resolve({ ...r, stop });
      };
      const look = (): void => {
        if (settled) return;
        try {
          const h = readClientHello(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
          if (h.complete) settle({ ok: true, serverName: h.serverName });
        } catch (err) {
          if (!(err instanceof TlsError)) throw err;
          settle({ ok: false, kind: 'refused', reason: err.message });
        }
      };
      const onData = (b: Buffer): void => {
        chunks.push(b);
        look();
      };
      const onEnd = (): void => {
        ended = true;
        settle({ ok: false, kind: 'failed', reason: 'the host ended the tunnel before a complete TLS ClientHello' });
      };
      const onClose = (): void => settle({ ok: false, kind: 'failed', reason: 'the host closed the tunnel before a complete TLS ClientHello' });
      const timer = setTimeout(() => settle({ ok: false, kind: 'refused', reason: `no TLS ClientHello within ${HEAD_TIMEOUT_MS / 1000} s` }), HEAD_TIMEOUT_MS);
      timer.unref?.();
      this.client.on('data', onData);
      this.client.on('end', onEnd);
      this.client.on('close', onClose);
      if (this.clientEnded) ended = true;
      look();
      if (!settled && ended) onEnd();
      this.client.resume();
    });
  }

  private refuse(status: number, method: string, target: string, reason: string): void {
    this.audit({ kind: 'refused', method, target, bytes: 0, sent: 0, reason });
    this.closeWith(status, `Tower relay refused ${method} ${target}: ${reason}\n`);
  }

  /** A last answer, then the connection ends (what the client still sends is read and dropped). */
  private closeWith(status: number, body: string): void {
    if (this.closed) return;
    this.busy = true;
    this.queued = [];
    this.client.removeListener('data', this.onData);
    this.client.on('data', () => undefined);
    this.client.resume();
    this.client.end(plainResponse(status, body));
    this.linger();
  }

  private endQuietly(): void {
    if (this.closed) return;
    this.busy = true;
    this.client.end();
    this.linger();
  }

  /** After our end of the connection: give the client a moment to read and close, then drop it. */
  private linger(): void {
    clearTimeout(this.timer);
    if (this.clientEnded) this.client.once('finish', () => this.destroy());
    else this.client.once('end', () => this.destroy());
    this.timer = setTimeout(() => this.destroy(), LINGER_MS);
    this.timer.unref?.();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    const ex = this.current;
    this.current = undefined;
    if (ex) {
      ex.detach?.();
      ex.upstream?.destroy();
      this.audit({ kind: 'failed', method: ex.method, target: ex.target, bytes: ex.bytes, sent: ex.sent, reason: 'the host closed the connection before the answer was complete' });
    }
    this.takeIdle('');
    this.client.destroy();
    this.gone();
  }
}
