import pino, { type Logger } from 'pino';
import type { LogLevelName, LogRecord } from '../../protocol/index.js';

export type { Logger };

const LEVELS: Record<number, LogLevelName> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
export const LEVEL_VALUE: Record<LogLevelName, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/**
 * Field names whose values never reach a log line. Log objects are built from chosen fields anyway; this is
 * the second line of defence (pino's `*` matches one level, hence the explicit depths).
 */
const SECRET_KEYS = ['privateKey', 'password', 'passphrase', 'passwordHash', 'text', 'clipboard', 'psk', 'key'];
const REDACT = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

/**
 * The last records, kept in memory for `towerctl logs` and streamed to `log` subscribers. Subscribers hear of
 * records on a later turn of the event loop, never from inside the call that logged: sending a record can log
 * (a client dropped for not reading), and delivering that synchronously would recurse into the same send.
 */
export class LogRing {
  private readonly records: { record: LogRecord; bytes: number }[] = [];
  private readonly listeners = new Set<(r: LogRecord) => void>();
  private pending: LogRecord[] = [];
  private scheduled = false;

  constructor(private readonly capacity = 2000) {}

  write(line: string): void {
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // pino only writes JSON; a partial line cannot be turned into a record
    }
    const { time, level, msg, host, pid: _pid, hostname: _hn, ...fields } = obj;
    const record: LogRecord = {
      time: typeof time === 'number' ? time : Date.now(),
      level: LEVELS[typeof level === 'number' ? level : 30] ?? 'info',
      msg: typeof msg === 'string' ? msg : '',
      fields,
    };
    if (typeof host === 'string') record.host = host;
    // the pino line is the record's JSON give or take a few names: its size is what a reply carrying it costs
    this.records.push({ record, bytes: Buffer.byteLength(line) });
    if (this.records.length > this.capacity) this.records.splice(0, this.records.length - this.capacity);
    if (this.listeners.size === 0) return;
    this.pending.push(record);
    // a burst larger than the ring is trimmed like the ring: oldest first
    if (this.pending.length > this.capacity) this.pending.splice(0, this.pending.length - this.capacity);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    // records logged while delivering these wait for the next turn
    for (const r of batch) for (const l of this.listeners) l(r);
  }

  /** The newest `lines` records at `minLevel` or above, fewer where their JSON would pass `maxBytes` together. */
  tail(lines: number, minLevel: LogLevelName, maxBytes = Infinity): LogRecord[] {
    const min = LEVEL_VALUE[minLevel];
    const picked: LogRecord[] = [];
    let bytes = 0;
    for (let i = this.records.length - 1; i >= 0 && picked.length < lines; i--) {
      const e = this.records[i]!;
      if (LEVEL_VALUE[e.record.level] < min) continue;
      bytes += e.bytes;
      if (bytes > maxBytes) break;
      picked.push(e.record);
    }
    return picked.reverse();
  }

  onRecord(fn: (r: LogRecord) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

/** pino JSON lines to stderr (one entry per line; journald and `pino-pretty` both read that) and into the ring. */
export function createLogger(level: LogLevelName, ring: LogRing, stderr: NodeJS.WritableStream = process.stderr): Logger {
  const streams = pino.multistream(
    [
      { level: 'trace', stream: stderr },
      { level: 'trace', stream: { write: (s: string) => ring.write(s) } },
    ],
    { dedupe: false },
  );
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.epochTime,
    },
    streams,
  );
}
