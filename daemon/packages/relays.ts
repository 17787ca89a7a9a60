import { randomBytes } from 'node:crypto';
import { chmod, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { ForwardManager } from '../forwards/manager.js';
import type { Logger } from '../log.js';
import { RelayProxy, type RelayAudit } from '../relay/proxy.js';
import type { RelayRule } from '../relay/policy.js';
import type { Supervisor } from '../ssh/supervisor.js';
import type { RelayAuditLog } from './audit.js';

export interface RelaySettings {
  allow: RelayRule[];
  connect: boolean;
}

export interface OpenRelay {
  /** the proxy URL for the host's own loopback */
  url: string;
  close(): Promise<void>;
}

/**
 * The package relay for one offline host while one of its package commands runs: a proxy on a private Unix socket
 * here, reached by the host through a remote forward on its own SSH connection (a port the host's sshd picked on its
 * loopback), opening each upstream connection as a direct-tcpip channel over the router's connection.
 */
export class RelayManager {
  constructor(
    private readonly supervisor: () => Supervisor | undefined,
    private readonly forwards: ForwardManager,
    private readonly runtimeDir: string,
    private readonly settings: () => RelaySettings,
    private readonly audit: RelayAuditLog,
    private readonly log: Logger,
  ) {}

  /** Open a byte stream to host:port from the router. */
  private dial(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const router = this.supervisor()?.get('router');
      const c = router?.connection;
      if (!router || !c) return reject(new Error('the router is not connected'));
      c.forwardOut('127.0.0.1', 0, host, port, (err, ch) => {
        if (err) return reject(new Error(`the router could not connect to ${host}:${port}: ${err.message}`));
        router.trackChannel(ch);
        resolve(ch);
      });
    });
  }

  async open(hostName: string): Promise<OpenRelay> {
    const path = join(this.runtimeDir, `relay-${hostName}-${randomBytes(4).toString('hex')}.sock`);
    const proxy = new RelayProxy({
      hostName,
      rules: () => this.settings().allow,
      allowConnect: () => this.settings().connect,
      dial: (h, p) => this.dial(h, p),
      audit: (a: RelayAudit) => {
        this.audit.record(a);
        const fields = { host: a.host, method: a.method, target: a.target, status: a.status, bytes: a.bytes, reason: a.reason };
        if (a.kind === 'refused') this.log.warn(fields, 'relay refused');
        else if (a.kind === 'failed') this.log.warn(fields, 'relay upstream failed');
        else this.log.info(fields, a.kind === 'tunnel' ? 'relay tunnel' : 'relay fetch');
      },
    });
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      const old = process.umask(0o177);
      try {
        proxy.server.listen(path, () => resolve());
      } finally {
        process.umask(old);
      }
    });
    await chmod(path, 0o600);
    const closeProxy = async () => {
      // close() waits for open connections (apk keeps its connection alive): end them first
      const closed = new Promise<boolean>((r) => proxy.server.close(() => r(true)));
      proxy.server.closeAllConnections();
      // a connection stuck in a tunnel must not hold up what follows (saving the world file)
      const timer = new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref());
      if (!(await Promise.race([closed, timer]))) this.log.warn({ host: hostName }, 'relay connections still open after 2 s; closing anyway');
      await unlink(path).catch(() => undefined);
    };
    let fwdId: string | undefined;
    try {
      const f = await this.forwards.open({ host: hostName, direction: 'remote', listen: { tcp: { host: '127.0.0.1', port: 0 } }, connect: { unix: path } });
      fwdId = f.id;
      const deadline = Date.now() + 5000;
      for (;;) {
        const info = this.forwards.list(hostName).find((x) => x.id === fwdId);
        if (info?.state === 'active' && 'tcp' in info.listen && info.listen.tcp.port > 0) {
          const url = `http://127.0.0.1:${info.listen.tcp.port}`;
          this.log.info({ host: hostName, url }, 'relay open');
          return {
            url,
            close: async () => {
              await this.forwards.close(fwdId!).catch(() => undefined);
              await closeProxy();
              this.log.info({ host: hostName }, 'relay closed');
            },
          };
        }
        if (Date.now() > deadline) throw new Error(`the relay could not listen on ${hostName}: ${info?.lastError ?? 'no answer'}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    } catch (err) {
      if (fwdId) await this.forwards.close(fwdId).catch(() => undefined);
      await closeProxy();
      throw err;
    }
  }
}
