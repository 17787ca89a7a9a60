import { openChannel } from '../../core/exec/run.js';
import type { HostSession } from '../../core/ssh/session.js';
import { setSchedule } from './policy.js';

const nowMs = () => performance.timeOrigin + performance.now();

/**
 * Says `ready`, reads one line (whole seconds since the epoch, digits only) and replaces itself with the privilege
 * command and `date -u -s @SECONDS`: the argument is checked here and passed as one word, never parsed by a shell.
 */
const SETTER = `echo ready
read -r t || exit 2
case $t in ''|*[!0-9]*) exit 2;; esac
exec "$@" "@$t"`;

export interface SetOutcome {
  /** the second sent */
  epochSeconds: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Sets the host's clock to the thin client's with `PRIVILEGE date -u -s @T`. Busybox's date sets whole seconds, so
 * the line with T is sent when the thin client's clock, plus half the measured round trip, reaches T: the host's
 * clock then reads T as ours does, up to the start-up time of the privilege command and date.
 */
export function setClock(s: HostSession, prefix: readonly string[], rttMs: number, timeoutMs = 15_000): Promise<SetOutcome> {
  return s.withSessionSlot(async () => {
    const ch = await openChannel(s, ['sh', '-c', SETTER, 'sh', ...prefix], undefined);
    s.trackChannel(ch);
    return new Promise<SetOutcome>((resolve, reject) => {
      let out = '';
      let err = '';
      let code: number | null = null;
      let epochSeconds = 0;
      let sendTimer: NodeJS.Timeout | undefined;
      let sent = false;
      const timer = setTimeout(() => {
        ch.close();
        reject(new Error('setting the clock did not finish in time'));
      }, timeoutMs);
      ch.on('exit', (c: number | null) => (code = c));
      ch.stderr.on('data', (d: Buffer) => {
        if (err.length < 2000) err += d.toString('utf8');
      });
      ch.on('data', (d: Buffer) => {
        if (out.length < 4096) out += d.toString('utf8');
        if (!sent && sendTimer === undefined && out.startsWith('ready\n')) {
          out = out.slice('ready\n'.length);
          const plan = setSchedule(nowMs(), rttMs / 2);
          epochSeconds = plan.epochSeconds;
          sendTimer = setTimeout(() => {
            sent = true;
            ch.write(`${plan.epochSeconds}\n`);
          }, Math.max(0, plan.sendAtMs - nowMs()));
        }
      });
      ch.on('close', () => {
        clearTimeout(timer);
        clearTimeout(sendTimer);
        if (!sent) return reject(new Error(`the host closed the channel before the time was sent${err ? `: ${err.trim().slice(0, 200)}` : ''}`));
        resolve({ epochSeconds, code, stdout: out.trim().slice(0, 500), stderr: err.trim().slice(0, 500) });
      });
    });
  });
}
