import { createServer, type Server, type Socket } from 'node:net';
import { unlink } from 'node:fs/promises';
import type { Client, Channel } from 'ssh2';
import type { Endpoint } from '../../../protocol/index.js';
import { Forward } from './forward.js';
import { splice } from './splice.js';
import { listenPrivate } from '../util/private-socket.js';

/** How long a connection accepted while the host is away waits for it to come back. */
const WAIT_FOR_HOST_MS = 3000;

/** thin client → host: towerd listens on loopback or a Unix socket; each connection is opened from the host. */
export class LocalForward extends Forward {
  private server: Server | undefined;
  private readonly waiting = new Map<Socket, NodeJS.Timeout>();
  private readonly live = new Set<Socket>();

  /** Bind the listener; returns the actual endpoint (the assigned port for port 0). */
  async listen(): Promise<Endpoint> {
    const server = createServer((sock) => this.accept(sock));
    this.server = server;
    if ('tcp' in this.listenAt) {
      const at = this.listenAt.tcp;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: at.host, port: at.port, exclusive: true }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const addr = server.address();
      if (addr && typeof addr === 'object') this.listenAt = { tcp: { host: at.host, port: addr.port } };
    } else {
      await listenPrivate(server, this.listenAt.unix);
    }
    server.on('error', (err) => this.log.warn({ forward: this.id, err: err.message }, 'forward listener error'));
    if (this.session()?.connection) this.moveTo('active');
    return this.listenAt;
  }

  listeners(): number {
    return this.server?.listening ? 1 : 0;
  }

  up(client: Client): void {
    this.moveTo('active', null);
    for (const [sock, timer] of this.waiting) {
      clearTimeout(timer);
      this.waiting.delete(sock);
      this.openThrough(client, sock);
    }
  }

  down(): void {
    this.moveTo('waiting');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const [sock, timer] of this.waiting) {
      clearTimeout(timer);
      sock.destroy();
    }
    this.waiting.clear();
    for (const s of this.live) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    if ('unix' in this.listenAt) await unlink(this.listenAt.unix).catch(() => undefined);
  }

  private accept(sock: Socket): void {
    if (this.closed) return void sock.destroy();
    sock.on('error', () => undefined);
    const client = this.session()?.connection;
    if (client) return this.openThrough(client, sock);
    // the host is reconnecting: hold the connection a little instead of failing it at once
    this.waiting.set(
      sock,
      setTimeout(() => {
        this.waiting.delete(sock);
        sock.destroy();
      }, WAIT_FOR_HOST_MS),
    );
    sock.once('close', () => {
      const t = this.waiting.get(sock);
      if (t) clearTimeout(t);
      this.waiting.delete(sock);
    });
  }

  private openThrough(client: Client, sock: Socket): void {
    if (sock.destroyed) return;
    this.connectionOpened();
    this.live.add(sock);
    let settled = false;
    const opened = (err: Error | undefined, ch: Channel) => {
      settled = true;
      if (err || sock.destroyed) {
        if (err) this.lastError = `host refused the connection to ${describe(this.connectTo)}: ${err.message}`;
        ch?.destroy();
        sock.destroy();
        this.live.delete(sock);
        this.connectionClosed();
        return;
      }
      this.session()?.trackChannel(ch);
      splice(sock, ch, this.counters(), () => {
        this.live.delete(sock);
        this.connectionClosed();
      });
    };
    try {
      if ('tcp' in this.connectTo) {
        client.forwardOut(sock.remoteAddress ?? '127.0.0.1', sock.remotePort ?? 0, this.connectTo.tcp.host, this.connectTo.tcp.port, opened);
      } else {
        client.openssh_forwardOutStreamLocal(this.connectTo.unix, opened);
      }
    } catch (err) {
      if (!settled) opened(err as Error, undefined as unknown as Channel);
    }
  }
}

export function describe(e: Endpoint): string {
  return 'tcp' in e ? `${e.tcp.host}:${e.tcp.port}` : e.unix;
}
