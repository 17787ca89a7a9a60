import { EventEmitter } from 'node:events';
import { connect as tcpConnect, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import ssh2, { type AcceptConnection, type Channel, type Client as SshClient, type RejectConnection, type TcpConnectionDetails, type UNIXConnectionDetails } from 'ssh2';
import type { HostState } from '../../../protocol/index.js';
import type { Liveness } from '../hoststate.js';
import type { Logger } from '../log.js';
import type { Host } from '../registry/registry.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { tickerFor } from './ticker.js';
import { checkHostKey, noPinnedKey, pinnedKeys, type PinnedKeys } from './hostkey.js';

const { Client, utils } = ssh2;

export interface SessionOptions {
  port: number;
  knownHostsPath: string;
  /** TCP connect must succeed within this; a black-holed host otherwise holds an attempt for minutes */
  connectTimeoutMs: number;
  /** key exchange and authentication after TCP connect */
  handshakeTimeoutMs: number;
  keepalive: { intervalMs: number; timeoutMs: number };
  backoff: BackoffOptions;
  /** after auth-failed, try again this much later (a re-provisioned host may accept the key again) */
  authRetryMs: number;
}

/**
 * Something that rides on a host's connection (a forward, later VNC, sound, clipboard, the package relay). The
 * session calls `up` every time the connection is ready, and `down` when it is gone; after a reconnect each
 * attachment comes back by itself.
 */
export interface Attachment {
  readonly name: string;
  up(client: SshClient): void | Promise<void>;
  down(): void;
}

/**
 * Live channels a host may have open on one remote forward or relay listener, counted from the moment it asks
 * until the channel closes (a remote forward connects here before it accepts). Each one holds buffers here and
 * maybe a socket, so a host opening thousands must not be able to make towerd hold thousands.
 */
export const MAX_CHANNELS_PER_LISTENER = 64;

/**
 * A keepalive deadline whose timer fires this much later than due was not watched: towerd itself was not running
 * (a busy event loop, a stopped process, a starved machine), so the silence it saw says nothing about the host.
 */
const STALLED_MS = 250;

/** Counts channels per listener and refuses those beyond the limit; one warning each time a listener hits it. */
class ChannelCap {
  private readonly live = new Map<string, number>();
  private readonly warned = new Set<string>();

  constructor(
    private readonly limit: number,
    private readonly warn: (listener: string) => void,
  ) {}

  admit(key: string, accept: AcceptConnection<Channel>, reject: RejectConnection, handle: (accept: AcceptConnection<Channel>, reject: RejectConnection) => void): void {
    const n = this.live.get(key) ?? 0;
    if (n >= this.limit) {
      if (!this.warned.has(key)) {
        this.warned.add(key);
        this.warn(key);
      }
      return reject();
    }
    this.live.set(key, n + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.live.get(key) ?? 1) - 1;
      if (left > 0) this.live.set(key, left);
      else this.live.delete(key);
      // warn again the next time the limit is reached, not on every refused channel of one burst
      if (left < this.limit / 2) this.warned.delete(key);
    };
    handle(
      () => {
        const ch = accept();
        ch.once('close', release);
        return ch;
      },
      () => {
        release();
        reject();
      },
    );
  }
}

export type IncomingTcp = (info: TcpConnectionDetails, accept: AcceptConnection<Channel>, reject: RejectConnection) => void;
export type IncomingUnix = (info: UNIXConnectionDetails, accept: AcceptConnection<Channel>, reject: RejectConnection) => void;

interface SessionEvents {
  state: [Liveness];
}

/** Counts of what the session holds, for leak checks and `daemon.stats`. */
export interface SessionCounts {
  connected: boolean;
  sockets: number;
  channels: number;
}

/**
 * One supervised SSH connection to one host: connect, verify the pinned host key, authenticate with the host's
 * key, keep alive (keepalive round trips give RTT and last contact), reconnect with jittered backoff.
 */
export class HostSession extends EventEmitter<SessionEvents> {
  private liveness: Liveness = { state: 'connecting', lastError: null, lastContact: null, rttMs: null };
  private client: SshClient | undefined;
  private sock: Socket | undefined;
  /** TCP connects still waiting for an answer (several overlap right after a loss) */
  private readonly connecting = new Set<Socket>();
  private retryTimer: NodeJS.Timeout | undefined;
  private stopProbes: (() => void) | undefined;
  private probeDeadline: NodeJS.Timeout | undefined;
  private stopped = false;
  private attemptId = 0;
  /** why the connection was dropped on purpose (keepalive timeout), reported instead of ssh2's socket error */
  private lostWith: string | undefined;
  private readonly attachments = new Set<Attachment>();
  private readonly backoff: Backoff;
  private openChannels = 0;
  private sessionSlots = 0;
  private readonly slotWaiters: (() => void)[] = [];
  /** remote forwards: incoming connections are dispatched on the address the host accepted them on */
  private readonly tcpHandlers = new Map<string, IncomingTcp>();
  private readonly unixHandlers = new Map<string, IncomingUnix>();

  constructor(
    readonly host: Host,
    private readonly opts: SessionOptions,
    private readonly log: Logger,
  ) {
    super();
    this.backoff = new Backoff(opts.backoff);
  }

  get state(): Liveness {
    return this.liveness;
  }

  /** The connected client, or undefined while the host is not online. */
  get connection(): SshClient | undefined {
    return this.liveness.state === 'online' ? this.client : undefined;
  }

  counts(): SessionCounts {
    return { connected: this.client !== undefined, sockets: (this.sock && !this.sock.destroyed ? 1 : 0) + this.connecting.size, channels: this.openChannels };
  }

  start(): void {
    this.stopped = false;
    this.attempt();
  }

  /** Close the connection and stop retrying; attachments get `down`. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.teardown();
  }

  /** Drop any connection and connect now, without waiting for the backoff. */
  reconnectNow(): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.backoff.reset();
    this.teardown();
    this.setState({ state: 'connecting', lastError: this.liveness.lastError });
    this.attempt();
  }

  attach(a: Attachment): void {
    this.attachments.add(a);
    const c = this.connection;
    if (c) this.runUp(a, c);
  }

  detach(a: Attachment): void {
    if (this.attachments.delete(a) && this.connection) a.down();
  }

  onIncomingTcp(bindAddr: string, port: number, h: IncomingTcp | undefined): void {
    if (h) this.tcpHandlers.set(`${bindAddr}:${port}`, h);
    else this.tcpHandlers.delete(`${bindAddr}:${port}`);
  }

  onIncomingUnix(path: string, h: IncomingUnix | undefined): void {
    if (h) this.unixHandlers.set(path, h);
    else this.unixHandlers.delete(path);
  }

  /** Track a channel so that leak checks can count them. */
  trackChannel(ch: { once(ev: 'close', fn: () => void): unknown }): void {
    this.openChannels++;
    ch.once('close', () => this.openChannels--);
  }

  /**
   * OpenSSH allows 10 session channels (exec, shell) per connection; beyond that opens fail. Callers take one of
   * `limit` slots and queue for the rest.
   */
  async withSessionSlot<T>(fn: () => Promise<T>, limit = 8): Promise<T> {
    while (this.sessionSlots >= limit) await new Promise<void>((r) => this.slotWaiters.push(r));
    this.sessionSlots++;
    try {
      return await fn();
    } finally {
      this.sessionSlots--;
      this.slotWaiters.shift()?.();
    }
  }

  private setState(next: Partial<Liveness> & { state: HostState }): void {
    const prev = this.liveness;
    this.liveness = { ...prev, ...next };
    if (prev.state !== this.liveness.state || prev.lastError !== this.liveness.lastError) {
      this.log.info({ host: this.host.name, state: this.liveness.state, error: this.liveness.lastError ?? undefined }, 'host state');
    }
    this.emit('state', this.liveness);
  }

  private runUp(a: Attachment, c: SshClient): void {
    Promise.resolve()
      .then(() => a.up(c))
      .catch((err: unknown) => this.log.warn({ host: this.host.name, attachment: a.name, err: (err as Error).message }, 'attachment failed to come up'));
  }

  private attempt(): void {
    const id = ++this.attemptId;
    void this.connectOnce(id).catch((err: unknown) => {
      if (id !== this.attemptId || this.stopped) return;
      this.failed('offline', (err as Error).message);
    });
  }

  private async connectOnce(id: number): Promise<void> {
    const { host, opts } = this;
    // ssh2 takes the key file's bytes (a parsed key object is silently skipped); parsing first gives a clear error
    let key: Buffer;
    try {
      key = await readFile(host.identityFile);
      const parsed = utils.parseKey(key);
      if (parsed instanceof Error) throw new Error(`cannot use key ${host.identityFile}: ${/encrypt|passphrase/i.test(parsed.message) ? 'it is encrypted' : 'unsupported format'}`);
    } catch (err) {
      if (id === this.attemptId) this.failed('auth-failed', (err as Error).message.startsWith('cannot use key') ? (err as Error).message : `cannot read key ${host.identityFile}`);
      return;
    }
    const pinned = await pinnedKeys(opts.knownHostsPath, host.ip, host.name, opts.port);
    if (id !== this.attemptId || this.stopped) return;
    if (pinned.trusted.size === 0) {
      // nothing to verify against: do not even connect
      this.failed('hostkey-mismatch', noPinnedKey(pinned));
      return;
    }
    const sock = await this.tcp(id);
    if (!sock) return;
    this.openSsh(id, sock, key, pinned);
  }

  /**
   * The TCP connection for attempt `id`. Right after a loss (Backoff.fast) a new connect starts every `fastMs` while
   * earlier ones still wait for their answer, and the first to connect wins: a SYN sent into a cut cable would
   * otherwise hold the attempt until its timeout, and the kernel's own SYN retry comes only after a second.
   * Resolves undefined, with the state set to offline, once no connect is pending and none is due.
   */
  private tcp(id: number): Promise<Socket | undefined> {
    const { port, connectTimeoutMs } = this.opts;
    const ip = this.host.ip;
    return new Promise((resolve) => {
      let done = false;
      let due: NodeJS.Timeout | undefined;
      let lastError = '';
      const finish = (winner: Socket | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(due);
        for (const s of this.connecting) if (s !== winner) s.destroy();
        this.connecting.clear();
        if (!winner && id === this.attemptId && !this.stopped) this.failed('offline', lastError);
        resolve(winner);
      };
      const start = () => {
        due = undefined;
        if (done) return;
        if (id !== this.attemptId || this.stopped) return finish(undefined);
        const sock = tcpConnect({ host: ip, port, noDelay: true });
        this.connecting.add(sock);
        let reason = `no TCP answer from ${ip}:${port} within ${connectTimeoutMs} ms`;
        const timer = setTimeout(() => sock.destroy(), connectTimeoutMs);
        sock.once('connect', () => {
          clearTimeout(timer);
          this.connecting.delete(sock);
          sock.setKeepAlive(true, 10_000);
          this.sock = sock;
          finish(sock);
        });
        sock.once('error', (err: NodeJS.ErrnoException) => (reason = describeSocketError(err, ip, port)));
        sock.once('close', () => {
          clearTimeout(timer);
          if (!this.connecting.delete(sock) || done) return;
          lastError = reason;
          // keep what status shows current while connects go on
          if (this.liveness.state !== 'offline' || this.liveness.lastError !== reason) this.setState({ state: 'offline', lastError: reason });
          if (this.connecting.size === 0 && due === undefined) finish(undefined);
        });
        if (this.backoff.fast()) due = setTimeout(start, this.opts.backoff.fastMs);
      };
      start();
    });
  }

  private openSsh(id: number, sock: Socket, key: Buffer, pinned: PinnedKeys): void {
    const client = new Client();
    this.client = client;
    let hostKeyProblem: string | undefined;
    let lastError: Error | undefined;
    client.on('ready', () => {
      if (id !== this.attemptId) return;
      this.backoff.reset();
      this.setState({ state: 'online', lastError: null, lastContact: new Date().toISOString() });
      this.startKeepalive(client, id);
      for (const a of this.attachments) this.runUp(a, client);
    });
    // anything the host opens towards us must match a remote forward we asked for; the rest is refused
    const capped = new ChannelCap(MAX_CHANNELS_PER_LISTENER, (listener) =>
      this.log.warn({ host: this.host.name, listener, limit: MAX_CHANNELS_PER_LISTENER }, 'host opened too many channels on one listener; refusing the excess'),
    );
    client.on('tcp connection', (info, accept, reject) => {
      const key = `${info.destIP}:${info.destPort}`;
      const h = this.tcpHandlers.get(key);
      if (h) capped.admit(key, accept, reject, (a, r) => h(info, a, r));
      else reject();
    });
    client.on('unix connection', (info, accept, reject) => {
      const h = this.unixHandlers.get(info.socketPath);
      if (h) capped.admit(info.socketPath, accept, reject, (a, r) => h(info, a, r));
      else reject();
    });
    client.on('error', (err: Error & { level?: string }) => {
      lastError = err;
    });
    client.on('close', () => {
      this.stopKeepalive();
      sock.destroy();
      if (this.client === client) this.client = undefined;
      const wasOnline = this.liveness.state === 'online';
      if (wasOnline) for (const a of this.attachments) a.down();
      if (id !== this.attemptId || this.stopped) return;
      if (hostKeyProblem) return this.failed('hostkey-mismatch', hostKeyProblem);
      const level = (lastError as { level?: string } | undefined)?.level;
      if (level === 'client-authentication')
        return this.failed('auth-failed', `the host refused key ${this.host.identityFile} for user ${this.host.user}`);
      this.failed('offline', lastError ? describeSshError(lastError, this.opts) : wasOnline ? 'connection closed by the host' : 'connection closed during handshake');
    });
    client.connect({
      sock,
      username: this.host.user,
      privateKey: key,
      readyTimeout: this.opts.handshakeTimeoutMs,
      keepaliveInterval: 0,
      hostVerifier: (blob: Buffer) => {
        const verdict = checkHostKey(pinned, blob);
        if (!verdict.ok) hostKeyProblem = verdict.reason;
        // refusing here ends the handshake before any authentication is attempted
        return verdict.ok;
      },
    });
  }

  /**
   * Keepalive round trips over the encrypted channel (a request the server answers at once) give RTT and last
   * contact. The host is declared gone when nothing has answered for `timeoutMs` since the last reply, whatever the
   * phase of the probes: detection takes at most `timeoutMs`, and probing every `intervalMs` (< timeoutMs) costs
   * one round trip per interval, even when TCP would wait for minutes.
   */
  private startKeepalive(client: SshClient, id: number): void {
    const { intervalMs, timeoutMs } = this.opts.keepalive;
    clearTimeout(this.probeDeadline);
    /** when the deadline is due; a timer that fires much later means towerd itself did not run (see below) */
    let dueAt = performance.now() + timeoutMs;
    /** bytes read from the host by the last arm(): any byte since then is the host talking, hence alive */
    const bytesRead = () => this.sock?.bytesRead ?? 0;
    let readAtArm = bytesRead();
    const arm = () => {
      dueAt = performance.now() + timeoutMs;
      readAtArm = bytesRead();
      deadline.refresh();
    };
    // one timer for the session's lifetime, pushed back by each reply (refresh() allocates nothing)
    const deadline = setTimeout(() => {
      if (id !== this.attemptId) return;
      const due = dueAt;
      const late = performance.now() - due;
      // timers run before the event loop reads its sockets: after a busy spell the reply may be there, unread
      setImmediate(() => {
        // a reply read meanwhile armed the deadline again
        if (id !== this.attemptId || dueAt !== due) return;
        // no verdict: the host gets a fresh probe and a whole timeout from now
        const reprobe = (detail: object, msg: string) => {
          this.log.debug({ host: this.host.name, ...detail }, msg);
          outstanding = false;
          arm();
          probe();
        };
        // bytes from the host: its reply is queued behind other traffic (a command's output, a transfer)
        const heard = bytesRead() - readAtArm;
        if (heard > 0) return reprobe({ bytes: heard }, 'keepalive reply not read yet, but the host is sending; probing again');
        // a deadline towerd itself missed (busy, or stopped): the silence it saw is no evidence
        if (late > STALLED_MS) return reprobe({ lateMs: Math.round(late) }, 'keepalive deadline passed while towerd was stalled; probing again');
        this.log.debug({ host: this.host.name, timeoutMs }, 'keepalive timed out');
        this.lostWith = `no keepalive reply within ${timeoutMs} ms`;
        client.destroy();
      });
    }, timeoutMs);
    this.probeDeadline = deadline;
    let outstanding = false;
    let sent = 0;
    const onReply = () => {
      outstanding = false;
      if (id !== this.attemptId || this.liveness.state !== 'online') return;
      arm();
      const rttMs = Math.round((performance.now() - sent) * 100) / 100;
      this.liveness = { ...this.liveness, rttMs, lastContact: new Date().toISOString() };
      this.emit('state', this.liveness);
    };
    const probe = () => {
      if (outstanding) return; // the deadline covers a probe that never comes back
      outstanding = true;
      sent = performance.now();
      try {
        // cancelling a forward that does not exist: the server answers at once with a failure, which is all we need
        client.unforwardIn('127.0.0.1', 0, onReply);
      } catch {
        // the socket is already closing; 'close' follows
      }
    };
    probe();
    // all sessions with the same interval probe in the same tick (ssh/ticker.ts)
    this.stopProbes = tickerFor(intervalMs).add(probe);
  }

  private stopKeepalive(): void {
    this.stopProbes?.();
    clearTimeout(this.probeDeadline);
    this.stopProbes = undefined;
    this.probeDeadline = undefined;
  }

  private failed(state: HostState, reason: string): void {
    const error = this.lostWith ?? reason;
    this.lostWith = undefined;
    this.setState({ state, lastError: error });
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    // a wrong host key needs a human: retrying would only knock on the door again (`host.reconnect` or an edit retries)
    if (state === 'hostkey-mismatch') return;
    const delay = state === 'auth-failed' ? this.opts.authRetryMs : this.backoff.next();
    this.retryTimer = setTimeout(() => this.attempt(), delay);
  }

  private teardown(): void {
    this.attemptId++;
    this.stopKeepalive();
    const c = this.client;
    this.client = undefined;
    if (c) {
      if (this.liveness.state === 'online') for (const a of this.attachments) a.down();
      c.removeAllListeners('ready');
      c.end();
      c.destroy();
    }
    this.sock?.destroy();
    this.sock = undefined;
    for (const s of this.connecting) s.destroy();
    this.connecting.clear();
  }
}

function describeSocketError(err: NodeJS.ErrnoException, ip: string, port: number): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return `connection refused by ${ip}:${port} (is sshd running?)`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${ip} is unreachable (cable, switch or address?)`;
    case 'ETIMEDOUT':
      return `connection to ${ip}:${port} timed out`;
    default:
      return `cannot connect to ${ip}:${port}: ${err.code ?? err.message}`;
  }
}

function describeSshError(err: Error & { level?: string }, opts: SessionOptions): string {
  if (err.level === 'client-timeout') return `SSH handshake did not finish within ${opts.handshakeTimeoutMs} ms`;
  if (err.level === 'client-socket') return `connection lost: ${(err as NodeJS.ErrnoException).code ?? err.message}`;
  return err.message;
}
