import { unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../core/log.js';
import { splice } from '../../core/forwards/splice.js';
import type { HostSession } from '../../core/ssh/session.js';
import { listenPrivate } from '../../core/util/private-socket.js';
import type { AppRecord } from './records.js';
import { FirstFrameWatch } from './rfb.js';

/** What a bridge tells and asks the rest of the app. */
export interface BridgeLink {
  /** the app's host session; connections are refused while it has no connection */
  session(): HostSession | undefined;
  /** false once the app has exited: nothing is left to show */
  open(): boolean;
  /** the first framebuffer update went to the viewer ('unparsed': the stream was past the handshake but not ours to read) */
  shown(how: 'update' | 'unparsed'): void;
  /** a viewer connection ended; `by` is the side that closed first (undefined: it failed before either closed) */
  ended(by: 'viewer' | 'host' | undefined): void;
  unreachable(message: string): void;
}

/**
 * towerd's end of an app's viewer: a 0600 Unix socket whose every connection is bridged to the app's Xvnc socket on
 * its host over the host's supervised connection. What the host sends is watched, without being changed, until its
 * first framebuffer update: the moment the viewer has pixels to show.
 */
export class ViewerBridge {
  private server: Server | undefined;
  private readonly conns = new Set<Socket>();

  constructor(
    readonly path: string,
    private readonly app: AppRecord,
    private readonly link: BridgeLink,
    private readonly log: Logger,
  ) {}

  async listen(): Promise<void> {
    await unlink(this.path).catch(() => undefined);
    const server = createServer((sock) => this.accept(sock));
    server.on('error', (err) => this.log.warn({ app: this.app.id, err: err.message }, 'viewer socket error'));
    await listenPrivate(server, this.path);
    this.server = server;
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    await unlink(this.path).catch(() => undefined);
  }

  private accept(sock: Socket): void {
    sock.on('error', () => undefined);
    const s = this.link.session();
    const client = s?.connection;
    if (!s || !client || !this.link.open()) return void sock.destroy();
    this.conns.add(sock);
    let ended: 'viewer' | 'host' | undefined;
    sock.once('close', () => (ended ??= 'viewer'));
    client.openssh_forwardOutStreamLocal(`${this.app.hostDir}/vnc.sock`, (err, ch) => {
      if (err || sock.destroyed) {
        ch?.destroy();
        sock.destroy();
        this.conns.delete(sock);
        if (err) this.link.unreachable(`cannot reach the app's display on ${this.app.host}: ${err.message}`);
        return;
      }
      s.trackChannel(ch);
      ch.once('close', () => (ended ??= 'host'));
      const watch = new FirstFrameWatch((how) => this.link.shown(how));
      const onData = (b: Buffer) => {
        watch.push(b);
        if (watch.done) ch.off('data', onData);
      };
      ch.on('data', onData);
      splice(sock, ch, { toHost: () => undefined, fromHost: () => undefined }, () => {
        this.conns.delete(sock);
        this.link.ended(ended);
      });
    });
  }
}
