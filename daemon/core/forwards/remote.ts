import { connect as netConnect, type Socket } from 'node:net';
import type { AcceptConnection, Channel, Client, RejectConnection } from 'ssh2';
import { Forward } from './forward.js';
import { describe } from './local.js';
import { splice } from './splice.js';

/** After an unclean drop, sshd may hold the old listener until it notices; binding is retried this often. */
const REBIND_MS = 500;

/** host → thin client: the host listens (loopback or a Unix socket); each connection is brought to `connect` here. */
export class RemoteForward extends Forward {
  private client: Client | undefined;
  private bound: { addr: string; port: number } | { path: string } | undefined;
  private retry: NodeJS.Timeout | undefined;
  private readonly live = new Set<Socket | Channel>();

  listeners(): number {
    return this.bound ? 1 : 0;
  }

  up(client: Client): void {
    this.client = client;
    this.bind(client);
  }

  private bind(client: Client): void {
    if (this.closed || this.client !== client) return;
    const failed = (err: Error) => {
      this.moveTo('waiting', `the host could not listen on ${describe(this.listenAt)}: ${err.message}`);
      this.retry = setTimeout(() => this.bind(client), REBIND_MS);
    };
    try {
      if ('tcp' in this.listenAt) {
        const { host: addr, port: wanted } = this.listenAt.tcp;
        client.forwardIn(addr, wanted, (err, assigned) => {
          if (err) return failed(err);
          const port = assigned || wanted;
          if (this.client !== client || this.closed) return void client.unforwardIn(addr, port);
          this.bound = { addr, port };
          if (wanted === 0) this.listenAt = { tcp: { host: addr, port } };
          this.session()?.onIncomingTcp(addr, port, (_info, accept, reject) => this.incoming(accept, reject));
          this.moveTo('active', null);
        });
      } else {
        const path = this.listenAt.unix;
        client.openssh_forwardInStreamLocal(path, (err) => {
          if (err) return failed(err);
          if (this.client !== client || this.closed) return void client.openssh_unforwardInStreamLocal(path, () => undefined);
          this.bound = { path };
          this.session()?.onIncomingUnix(path, (_info, accept, reject) => this.incoming(accept, reject));
          this.moveTo('active', null);
        });
      }
    } catch (err) {
      // the connection went away between `up` and here; `down` follows
      this.lastError = (err as Error).message;
    }
  }

  private incoming(accept: AcceptConnection<Channel>, reject: RejectConnection): void {
    if (this.closed) return reject();
    const target = this.connectTo;
    const sock = 'tcp' in target ? netConnect({ host: target.tcp.host, port: target.tcp.port }) : netConnect(target.unix);
    sock.once('error', (err) => {
      this.lastError = `cannot reach ${describe(target)} on the thin client: ${err.message}`;
      reject();
    });
    sock.once('connect', () => {
      sock.removeAllListeners('error');
      const ch = accept();
      this.session()?.trackChannel(ch);
      this.connectionOpened();
      this.live.add(sock);
      splice(sock, ch, this.counters(), () => {
        this.live.delete(sock);
        this.connectionClosed();
      });
    });
  }

  private unregister(): void {
    if (!this.bound) return;
    if ('path' in this.bound) this.session()?.onIncomingUnix(this.bound.path, undefined);
    else this.session()?.onIncomingTcp(this.bound.addr, this.bound.port, undefined);
  }

  down(): void {
    clearTimeout(this.retry);
    this.unregister();
    this.bound = undefined;
    this.client = undefined;
    this.moveTo('waiting');
  }

  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const c = this.client;
    const b = this.bound;
    this.unregister();
    if (c && b) {
      try {
        if ('path' in b) c.openssh_unforwardInStreamLocal(b.path, () => undefined);
        else c.unforwardIn(b.addr, b.port);
      } catch {
        // the connection is already closing, and with it the host's listener
      }
    }
    for (const s of this.live) s.destroy();
    this.bound = undefined;
    this.client = undefined;
    return Promise.resolve();
  }
}
