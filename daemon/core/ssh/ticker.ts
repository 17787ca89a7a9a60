/**
 * One timer per interval for all sessions' keepalive probes. With a timer per host, 50 hosts wake the daemon 50
 * times a second for the probes alone, each wake-up paying the event loop's fixed cost; probing every host in the
 * same tick pays it once, and the replies arrive close together as well.
 */
export class Ticker {
  private readonly jobs = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly intervalMs: number) {}

  /** Run `job` on every tick until the returned function is called. */
  add(job: () => void): () => void {
    this.jobs.add(job);
    if (!this.timer) this.timer = setInterval(() => this.tick(), this.intervalMs);
    return () => {
      this.jobs.delete(job);
      if (this.jobs.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  get size(): number {
    return this.jobs.size;
  }

  private tick(): void {
    for (const job of this.jobs) job();
  }
}

const tickers = new Map<number, Ticker>();

/** The process-wide ticker for an interval. */
export function tickerFor(intervalMs: number): Ticker {
  let t = tickers.get(intervalMs);
  if (!t) tickers.set(intervalMs, (t = new Ticker(intervalMs)));
  return t;
}
