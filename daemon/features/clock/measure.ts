import type { ClientChannel } from 'ssh2';
import { openChannel } from '../../core/exec/run.js';
import type { HostSession } from '../../core/ssh/session.js';

/**
 * Answers each line on stdin with the host's time. python3 (on every TowerOS host) gives nanoseconds; without it,
 * busybox `date +%s` gives whole seconds, which the bounds then widen by one. Busybox's date has no %N and
 * /proc/uptime is not wall-clock time.
 */
const CLOCK = `if command -v python3 >/dev/null 2>&1; then
  exec python3 -c 'import sys, time
for _ in sys.stdin:
    print("ns", time.time_ns(), flush=True)'
fi
while read -r _; do echo "s $(date +%s)"; done`;

export interface ClockOffset {
  /** host clock minus thin-client clock, ms (the middle of the bounds) */
  offsetMs: number;
  /** the true offset lies within offsetMs ± this */
  boundMs: number;
  /** round trip of the sample used, ms */
  rttMs: number;
}

const nowMs = () => performance.timeOrigin + performance.now();

/**
 * The host's clock against this one, corrected for the round trip: the host read its clock somewhere between our
 * send and our receipt, so its offset lies in [hostTime − received, hostTime − sent]. Of a few exchanges over one
 * channel the tightest is kept (the first also waits for the interpreter to start).
 */
export function clockOffset(s: HostSession, rounds = 5, timeoutMs = 10_000): Promise<ClockOffset> {
  return s.withSessionSlot(async () => {
    const ch: ClientChannel = await openChannel(s, ['sh', '-c', CLOCK, 'sh'], undefined);
    s.trackChannel(ch);
    return new Promise<ClockOffset>((resolve, reject) => {
      let buf = '';
      let sent = 0;
      let best: { lo: number; hi: number; rtt: number } | undefined;
      let n = 0;
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        ch.removeAllListeners('data');
        ch.close();
        if (best) resolve({ offsetMs: (best.lo + best.hi) / 2, boundMs: (best.hi - best.lo) / 2, rttMs: best.rtt });
        else reject(err ?? new Error('the host did not tell its time'));
      };
      const timer = setTimeout(() => finish(new Error('the host did not tell its time in time')), timeoutMs);
      const ask = () => {
        sent = nowMs();
        ch.write('t\n');
      };
      ch.on('data', (d: Buffer) => {
        const got = nowMs();
        buf += d.toString('latin1');
        if (buf.length > 4096) return finish(new Error('the host said too much'));
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const m = /^(ns|s) ([0-9]{1,20})$/.exec(line);
          if (!m) return finish(new Error('the host gave an unexpected answer'));
          const hostMs = m[1] === 'ns' ? Number(BigInt(m[2]!) / 1000n) / 1000 : Number(m[2]) * 1000;
          const width = m[1] === 'ns' ? 0 : 1000;
          const sample = { lo: hostMs - got, hi: hostMs + width - sent, rtt: got - sent };
          if (!best || sample.hi - sample.lo < best.hi - best.lo) best = sample;
          if (++n >= rounds) return finish();
          ask();
        }
      });
      ch.on('close', () => finish(new Error('the host closed the channel')));
      ch.stderr.on('data', () => undefined);
      ask();
    });
  });
}
