import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { splice } from '../forwards/splice.js';
import { checkUpstream, parseAuthority, type RelayRule } from './policy.js';

/** One line of the relay's audit trail: what a host fetched or was refused. Never the payload. */
export interface RelayAudit {
  host: string;
  kind: 'fetch' | 'tunnel' | 'refused' | 'failed';
  method: string;
  target: string;
  status?: number;
  bytes: number;
  reason?: string;
}

export interface RelayOptions {
  /** the host whose requests this proxy serves (for the audit trail) */
  hostName: string;
  rules: () => readonly RelayRule[];
  /** whether CONNECT (TLS to port 443) is allowed at all */
  allowConnect: () => boolean;
  /** open a byte stream to host:port from the router (a direct-tcpip channel over its SSH connection) */
  dial(host: string, port: number): Promise<Duplex>;
  audit(a: RelayAudit): void;
}

const HOP_HEADERS = new Set(['connection', 'proxy-connection', 'keep-alive', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * An HTTP proxy (absolute-form GET/HEAD and CONNECT) for one host's package manager. It is not a cache and
 * not an open proxy: each request is checked against the allow-list, and upstream connections are opened
 * through the router, never from the thin client's own network.
 */
export class RelayProxy {
  readonly server: Server;

  constructor(private readonly opts: RelayOptions) {
    this.server = createServer((req, res) => void this.onRequest(req, res));
    this.server.on('connect', (req: IncomingMessage, sock: Duplex, head: Buffer) => void this.onConnect(req, sock, head));
    // a client that stalls must not hold the relay forever
    this.server.headersTimeout = 30_000;
    this.server.requestTimeout = 0;
  }

  private refuse(res: ServerResponse | Duplex, method: string, target: string, reason: string): void {
    this.opts.audit({ host: this.opts.hostName, kind: 'refused', method, target, bytes: 0, reason });
    const body = `Tower relay refused ${method} ${target}: ${reason}\n`;
    if ('writeHead' in res) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
      res.end(body);
    } else {
      res.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    }
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const target = req.url ?? '';
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return this.refuse(res, method, target, 'a proxy request needs an absolute http:// URL');
    }
    if (url.protocol !== 'http:') return this.refuse(res, method, target, `${url.protocol} is not relayed (use CONNECT for https)`);
    if (method !== 'GET' && method !== 'HEAD') return this.refuse(res, method, target, 'only GET and HEAD are relayed');
    if (url.username || url.password) return this.refuse(res, method, target, 'credentials in URLs are not relayed');
    const port = url.port ? Number(url.port) : 80;
    const verdict = checkUpstream(this.opts.rules(), url.hostname, port);
    if (!verdict.ok) return this.refuse(res, method, target, verdict.reason);

    let upstream: Duplex;
    try {
      upstream = await this.opts.dial(url.hostname, port);
    } catch (err) {
      this.opts.audit({ host: this.opts.hostName, kind: 'failed', method, target, bytes: 0, reason: (err as Error).message });
      res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(`Tower relay could not reach ${url.host}: ${(err as Error).message}\n`);
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_HEADERS.has(k)) headers[k] = v;
    headers.host = url.host;
    headers.connection = 'close';
    const up = request({ method, path: `${url.pathname}${url.search}`, headers, createConnection: () => upstream });
    let bytes = 0;
    up.on('response', (r) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(r.headers)) if (v !== undefined && !HOP_HEADERS.has(k)) out[k] = v;
      res.writeHead(r.statusCode ?? 502, out);
      r.on('data', (b: Buffer) => (bytes += b.length));
      r.pipe(res);
      r.on('end', () => this.opts.audit({ host: this.opts.hostName, kind: 'fetch', method, target, status: r.statusCode ?? 0, bytes }));
    });
    up.on('error', (err) => {
      this.opts.audit({ host: this.opts.hostName, kind: 'failed', method, target, bytes, reason: err.message });
      if (!res.headersSent) res.writeHead(502, { connection: 'close' });
      res.end();
    });
    req.on('close', () => {
      if (!res.writableEnded) up.destroy();
    });
    up.end();
  }

  private async onConnect(req: IncomingMessage, sock: Duplex, head: Buffer): Promise<void> {
    const target = req.url ?? '';
    sock.on('error', () => undefined);
    if (!this.opts.allowConnect()) return this.refuse(sock, 'CONNECT', target, 'CONNECT is not allowed by the relay settings');
    const auth = parseAuthority(target);
    if (!auth) return this.refuse(sock, 'CONNECT', target, 'CONNECT needs host:port');
    const verdict = checkUpstream(this.opts.rules(), auth.host, auth.port);
    if (!verdict.ok) return this.refuse(sock, 'CONNECT', target, verdict.reason);
    let upstream: Duplex;
    try {
      upstream = await this.opts.dial(auth.host, auth.port);
    } catch (err) {
      this.opts.audit({ host: this.opts.hostName, kind: 'failed', method: 'CONNECT', target, bytes: 0, reason: (err as Error).message });
      sock.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\n\r\n');
      return;
    }
    let bytes = 0;
    sock.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) upstream.write(head);
    splice(sock, upstream, { toHost: () => undefined, fromHost: (n) => (bytes += n) }, () =>
      this.opts.audit({ host: this.opts.hostName, kind: 'tunnel', method: 'CONNECT', target, bytes }),
    );
  }
}
