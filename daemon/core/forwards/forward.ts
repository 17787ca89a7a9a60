import type { Endpoint, ForwardDirection, ForwardInfo } from '../../../protocol/index.js';
import type { Logger } from '../log.js';
import type { Attachment, HostSession } from '../ssh/session.js';

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
