import type { Endpoint, ForwardInfo } from '../../../protocol/index.js';
import type { Logger } from '../log.js';
import { TowerError, noSuchHost, notSupervised } from '../errors.js';
import type { Supervisor } from '../ssh/supervisor.js';
import type { Forward, ForwardWatch } from './forward.js';
import { LocalForward } from './local.js';
import { RemoteForward } from './remote.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** Listeners are only ever on loopback or a Unix socket, on either side; local targets too. */
function checkEndpoints(direction: 'local' | 'remote', listen: Endpoint, connect: Endpoint): void {
  if ('tcp' in listen && !LOOPBACK.has(listen.tcp.host))
    throw new TowerError('InvalidParams', `forwards listen on loopback only (127.0.0.1, ::1, localhost), not ${listen.tcp.host}`);
  if (direction === 'remote' && 'tcp' in connect && !LOOPBACK.has(connect.tcp.host))
    throw new TowerError('InvalidParams', `a remote forward may only reach loopback or a Unix socket on the thin client, not ${connect.tcp.host}`);
}

/**
 * All forwards of the daemon, each attached to its host's session. A feature whose work follows a host's connection
 * opens a forward with a watch and hears when it comes up, goes down, or is closed.
 */
export class ForwardManager {
  private readonly forwards = new Map<string, Forward>();
  private next = 1;

  constructor(
    private readonly supervisor: () => Supervisor | undefined,
    private readonly log: Logger,
  ) {}

  async open(p: { host: string; direction: 'local' | 'remote'; listen: Endpoint; connect: Endpoint }, watch?: ForwardWatch): Promise<ForwardInfo> {
    const sup = this.supervisor();
    if (!sup) throw notSupervised('no connection to forward over');
    if (!sup.get(p.host)) throw noSuchHost(p.host);
    checkEndpoints(p.direction, p.listen, p.connect);
    // remote listeners are keyed by the address the host reports; use the literal address
    const listen: Endpoint = 'tcp' in p.listen && p.listen.tcp.host === 'localhost' ? { tcp: { host: '127.0.0.1', port: p.listen.tcp.port } } : p.listen;
    const id = `f${this.next++}`;
    const session = () => sup.get(p.host);
    const log = this.log.child({ host: p.host });
    const f = p.direction === 'local' ? new LocalForward(id, p.host, 'local', listen, p.connect, session, log) : new RemoteForward(id, p.host, 'remote', listen, p.connect, session, log);
    if (f instanceof LocalForward) {
      try {
        await f.listen();
      } catch (err) {
        throw new TowerError('ListenFailed', `cannot listen on ${'tcp' in listen ? `${listen.tcp.host}:${listen.tcp.port}` : listen.unix}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    this.forwards.set(id, f);
    // before attach: when the host is online, `up` (and with it a change) may come before open returns
    f.watch = watch;
    sup.attach(p.host, f);
    this.log.info({ host: p.host, forward: id, direction: p.direction, listen: f.info().listen, connect: p.connect }, 'forward opened');
    return f.info();
  }

  list(host?: string): ForwardInfo[] {
    return [...this.forwards.values()].filter((f) => !host || f.hostName === host).map((f) => f.info());
  }

  async close(id: string): Promise<void> {
    const f = this.forwards.get(id);
    if (!f) throw new TowerError('ForwardNotFound', `no forward ${id}`);
    this.forwards.delete(id);
    // its owner hears `closed`, not the `down` that detaching brings
    const watch = f.watch;
    f.watch = undefined;
    // close while still attached: a remote forward needs the live connection to cancel its listener on the host
    await f.close();
    this.supervisor()?.detach(f.hostName, f);
    this.log.info({ host: f.hostName, forward: id }, 'forward closed');
    watch?.closed?.(f.info());
  }

  /** A host left the registry: its forwards go with it. */
  async closeHost(name: string): Promise<void> {
    for (const f of [...this.forwards.values()]) if (f.hostName === name) await this.close(f.id);
  }

  async closeAll(): Promise<void> {
    for (const id of [...this.forwards.keys()]) await this.close(id);
  }

  counts(): { forwards: number; listeners: number } {
    let listeners = 0;
    for (const f of this.forwards.values()) listeners += f.listeners();
    return { forwards: this.forwards.size, listeners };
  }
}
