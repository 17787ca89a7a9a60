import type { Endpoint, ForwardDirection, ForwardInfo } from '../../../protocol/index.js';
import type { Logger } from '../log.js';
import type { Attachment, HostSession } from '../ssh/session.js';

/**
 * What the owner of a forward hears, so that it follows its host's connection through the forward instead of
 * looking at it now and then: the forward's state moved (the host's listener was bound, the connection went), or
 * the forward is gone (closed by its owner, by hand with `towerctl forward close`, or with its host).
 */
export interface ForwardWatch {
  changed?(info: ForwardInfo): void;
  closed?(info: ForwardInfo): void;
}

/** What local and remote forwards share: identity, counters and the info the API reports. */
export abstract class Forward implements Attachment {
  readonly name: string;
  protected state: ForwardInfo['state'] = 'waiting';
  protected lastError: string | null = null;
  protected open = 0;
  protected total = 0;
  protected toHost = 0;
  protected fromHost = 0;
  protected closed = false;
  watch: ForwardWatch | undefined;

  constructor(
    readonly id: string,
    readonly hostName: string,
    readonly direction: ForwardDirection,
    protected listenAt: Endpoint,
    readonly connectTo: Endpoint,
    /** the host's session right now (the supervisor may replace it when the host's address changes) */
    protected readonly session: () => HostSession | undefined,
    protected readonly log: Logger,
  ) {
    this.name = `forward ${id}`;
  }

  abstract up(client: import('ssh2').Client): void | Promise<void>;
  abstract down(): void;
  /** Release everything: listener, bound address, connections. */
  abstract close(): Promise<void>;
  /** Listeners this forward holds right now (0 or 1). */
  abstract listeners(): number;

  info(): ForwardInfo {
    return {
      id: this.id,
      host: this.hostName,
      direction: this.direction,
      listen: this.listenAt,
      connect: this.connectTo,
      state: this.state,
      lastError: this.lastError,
      openConnections: this.open,
      totalConnections: this.total,
      bytesToHost: this.toHost,
      bytesFromHost: this.fromHost,
    };
  }

  /** Move to `state` (with `lastError` when given); the watch hears of it when either changed. */
  protected moveTo(state: ForwardInfo['state'], lastError?: string | null): void {
    const before = [this.state, this.lastError];
    this.state = state;
    if (lastError !== undefined) this.lastError = lastError;
    if (before[0] !== this.state || before[1] !== this.lastError) this.watch?.changed?.(this.info());
  }

  protected counters() {
    return { toHost: (n: number) => (this.toHost += n), fromHost: (n: number) => (this.fromHost += n) };
  }

  protected connectionOpened(): void {
    this.open++;
    this.total++;
  }

  protected connectionClosed(): void {
    this.open--;
  }
}
