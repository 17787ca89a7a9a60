/**
 * Reconnect delays: exponential from `initialMs`, capped at `capMs` (raised to `longCapMs` once the host has been
 * away longer than `longAfterMs`), with full jitter in [50 %, 100 %] so that many hosts do not retry in step.
 */
export interface BackoffOptions {
  initialMs: number;
  capMs: number;
  longCapMs: number;
  longAfterMs: number;
  /**
   * For the first `fastForMs` after a loss, a new TCP connect starts every `fastMs` while earlier ones are still
   * waiting (0: off): a link that comes back is found within `fastMs`, not at the end of a connect timeout.
   */
  fastMs: number;
  fastForMs: number;
}

export class Backoff {
  private attempt = 0;
  private since: number | null = null;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  next(): number {
    this.since ??= this.now();
    const cap = this.now() - this.since > this.opts.longAfterMs ? this.opts.longCapMs : this.opts.capMs;
    const base = Math.min(cap, this.opts.initialMs * 2 ** Math.min(this.attempt, 20));
    this.attempt++;
    return Math.round(base * (0.5 + 0.5 * this.random()));
  }

  /** How long the host has been away: since the first delay asked for after the last reset (0 before any). */
  awayMs(): number {
    return this.since === null ? 0 : this.now() - this.since;
  }

  /** Whether connects should overlap now (see `fastMs`). */
  fast(): boolean {
    return this.opts.fastMs > 0 && this.awayMs() < this.opts.fastForMs;
  }

  reset(): void {
    this.attempt = 0;
    this.since = null;
  }
}
