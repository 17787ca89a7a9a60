import type { HostClock } from '../../../protocol/index.js';
import type { Core } from '../../core/feature.js';
import { runCaptured } from '../../core/exec/run.js';
import { clockOffset, type ClockOffset } from './measure.js';
import { SOURCE_PROBE, clockPolicy, dateSetArgv, needsSetting, parseSource } from './policy.js';
import { setClock, startupTime } from './set.js';

interface State {
  m: (ClockOffset & { at: number }) | null;
  source: string | null;
  lastSet: HostClock['lastSet'];
  error: string | null;
}

const round = (n: number) => Math.round(n * 1000) / 1000;
const msg = (err: unknown) => ((err as Error).message ?? String(err)).slice(0, 300);

/**
 * Keeps the hosts' clocks: measures each one on connection and every clock.everyMs, and sets the clock of a host
 * whose policy allows it (policy.ts) when it is off by more than clock.maxOffsetMs, then measures again. One
 * measurement per host at a time; a request during one joins it.
 */
export class ClockKeeper {
  private readonly states = new Map<string, State>();
  private readonly running = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private everyMs = 0;
  private stopped = false;

  constructor(private readonly core: Core) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** (Re)arm the periodic measurement when clock.everyMs changed. */
  schedule(): void {
    const every = this.core.settings().clock.everyMs;
    if (this.timer && every === this.everyMs) return;
    clearInterval(this.timer);
    this.everyMs = every;
    this.timer = setInterval(() => {
      for (const h of this.core.registry.list()) if (this.isConnected(h.name)) void this.sync(h.name);
    }, every);
    this.timer.unref();
  }

  connectionChanged(name: string, online: boolean): void {
    if (online && !this.stopped) void this.sync(name);
  }

  forget(name: string): void {
    this.states.delete(name);
  }

  /** The clock part of a host's HostInfo; undefined before anything is known. */
  clock(name: string): HostClock | undefined {
    const st = this.states.get(name);
    const host = this.core.registry.get(name);
    if (!st || !host) return undefined;
    const p = clockPolicy(this.core.settings().clock, name, host.role, st.source);
    return {
      offsetMs: st.m ? round(st.m.offsetMs) : null,
      boundMs: st.m ? round(st.m.boundMs) : null,
      rttMs: st.m ? round(st.m.rttMs) : null,
      measuredAt: st.m ? new Date(st.m.at).toISOString() : null,
      source: st.source,
      policy: p.policy,
      reason: p.reason,
      lastSet: st.lastSet,
      error: st.error,
    };
  }

  /** One measurement of a connected host's clock, without setting anything (doctor). */
  measure(name: string): Promise<ClockOffset> {
    return clockOffset(this.core.connected(name));
  }

  /** Measure now and set the clock where the policy says; resolves when done (errors end up in the state). */
  sync(name: string): Promise<void> {
    let p = this.running.get(name);
    if (!p) {
      p = this.run(name).finally(() => this.running.delete(name));
      this.running.set(name, p);
    }
    return p;
  }

  private isConnected(name: string): boolean {
    try {
      this.core.connected(name);
      return true;
    } catch {
      return false;
    }
  }

  private state(name: string): State {
    let st = this.states.get(name);
    if (!st) {
      st = { m: null, source: null, lastSet: null, error: null };
      this.states.set(name, st);
    }
    return st;
  }

  private async run(name: string): Promise<void> {
    const host = this.core.registry.get(name);
    if (!host) return;
    const st = this.state(name);
    const log = this.core.log;
    try {
      const s = this.core.connected(name);
      const probe = await runCaptured(s, ['sh', '-c', SOURCE_PROBE], 10_000, 4096);
      st.source = probe.code === 0 ? parseSource(probe.stdout) : null;
      const m = await clockOffset(s);
      st.m = { ...m, at: Date.now() };
      st.error = null;
      const cfg = this.core.settings();
      const p = clockPolicy(cfg.clock, name, host.role, st.source);
      log.debug({ host: name, offsetMs: round(m.offsetMs), boundMs: round(m.boundMs), source: st.source, policy: p.policy }, 'host clock');
      if (p.policy === 'set' && needsSetting(cfg.clock, m)) {
        const before = m.offsetMs;
        let error: string | null = null;
        let after: number | null = null;
        let sentOneWay = 0;
        let startMs: number | undefined;
        try {
          // the way there: half the round trip plus the privilege command's and date's start-up, when measurable
          let oneWayMs = m.rttMs / 2;
          try {
            const t = await startupTime(s, cfg.packages.privilege);
            startMs = round(t);
            if (t > m.rttMs && t < 5000) oneWayMs = t - m.rttMs / 2;
          } catch (err) {
            log.debug({ host: name, err: msg(err) }, 'cannot time the start of date');
          }
          sentOneWay = round(oneWayMs);
          // the argv up to the time itself, which the host's side adds when it is due
          const r = await setClock(s, dateSetArgv(cfg.packages.privilege, 0).slice(0, -1), oneWayMs);
          // busybox's date reports a refused setting on stderr and still exits 0
          if (r.code !== 0 || /set date|not permitted/i.test(r.stderr)) {
            const last = r.stderr.split('\n').filter(Boolean).at(-1);
            error = `${dateSetArgv(cfg.packages.privilege, r.epochSeconds).join(' ')} failed (exit status ${r.code ?? 'none'})${last ? `: ${last}` : ''}`;
          }
        } catch (err) {
          error = msg(err);
        }
        try {
          const m2 = await clockOffset(s);
          st.m = { ...m2, at: Date.now() };
          after = m2.offsetMs;
        } catch (err) {
          error ??= `measuring afterwards: ${msg(err)}`;
        }
        st.lastSet = { at: new Date().toISOString(), beforeMs: round(before), afterMs: after === null ? null : round(after), error };
        if (error) log.warn({ host: name, beforeMs: round(before), afterMs: after === null ? undefined : round(after), err: error }, 'could not set the host clock');
        else log.info({ host: name, beforeMs: round(before), afterMs: round(after!), startupMs: startMs, leadMs: sentOneWay }, 'set the host clock');
      }
    } catch (err) {
      st.error = msg(err);
      log.warn({ host: name, err: st.error }, 'cannot measure the host clock');
    }
    this.core.hostChanged(name);
  }
}
