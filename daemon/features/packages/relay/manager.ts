import type { Duplex } from 'node:stream';
import type { Logger } from '../../../core/log.js';
import { RelayProxy, type RelayAudit } from './proxy.js';
import type { RelayRule } from './policy.js';
import type { Supervisor } from '../../../core/ssh/supervisor.js';
import type { RelayTrail } from './trail.js';

export interface RelaySettings {
  allow: RelayRule[];
  connect: boolean;
  connectPorts: number[];
  tunnelMaxMs: number;
  tunnelMaxBytes: number;
  tunnelMaxUploadBytes: number;
}

export interface OpenRelay {
  /** the proxy URL for the host's own loopback */
  url: string;
  close(): Promise<void>;
}

/** The host must bind the relay's port within this. */
const LISTEN_TIMEOUT_MS = 5000;

/**
 * The package relay for one offline host while one of its package commands runs: a remote forward on the host's
 * own SSH connection (a port its sshd picks on its loopback) whose channels go straight into the relay proxy
 * here, with no socket in between; each upstream connection is a direct-tcpip channel over the router's
 * connection.
 */
export class RelayManager {
  constructor(
    private readonly supervisor: () => Supervisor | undefined,
    private readonly settings: () => RelaySettings,
    private readonly audit: RelayTrail,
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
    const session = this.supervisor()?.get(hostName);
    const client = session?.connection;
    if (!session || !client) throw new Error(`${hostName} is not connected`);
    const proxy = new RelayProxy({
      hostName,
      rules: () => this.settings().allow,
      connect: () => {
        const s = this.settings();
        return { enabled: s.connect, ports: s.connectPorts, maxMs: s.tunnelMaxMs, maxBytes: s.tunnelMaxBytes, maxUploadBytes: s.tunnelMaxUploadBytes };
      },
      dial: (h, p) => this.dial(h, p),
      audit: (a: RelayAudit) => {
        this.audit.record(a);
        const fields = { host: a.host, method: a.method, target: a.target, status: a.status, bytes: a.bytes, sent: a.sent, reason: a.reason };
        if (a.kind === 'refused') this.log.warn(fields, 'relay refused');
        else if (a.kind === 'failed') this.log.warn(fields, 'relay upstream failed');
        else if (a.reason) this.log.warn(fields, 'relay tunnel cut');
        else this.log.info(fields, a.kind === 'tunnel' ? 'relay tunnel' : 'relay fetch');
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the relay could not listen on ${hostName}: no answer within ${LISTEN_TIMEOUT_MS} ms`)), LISTEN_TIMEOUT_MS);
      try {
        client.forwardIn('127.0.0.1', 0, (err, assigned) => {
          clearTimeout(timer);
          if (err) reject(new Error(`the relay could not listen on ${hostName}: ${err.message}`));
          else resolve(assigned);
        });
      } catch (err) {
        clearTimeout(timer);
        reject(new Error(`the relay could not listen on ${hostName}: ${(err as Error).message}`));
      }
    });
    // only connections to that port on the host's loopback reach the proxy; the session refuses anything else
    session.onIncomingTcp('127.0.0.1', port, (_info, accept) => {
      const ch = accept();
      session.trackChannel(ch);
      proxy.handle(ch);
    });
    const url = `http://127.0.0.1:${port}`;
    this.log.info({ host: hostName, url }, 'relay open');
    return {
      url,
      close: () => {
        session.onIncomingTcp('127.0.0.1', port, undefined);
        try {
          client.unforwardIn('127.0.0.1', port);
        } catch {
          // the connection is already closing, and with it the host's listener
        }
        proxy.closeAll();
        this.log.info({ host: hostName }, 'relay closed');
        return Promise.resolve();
      },
    };
  }
}
