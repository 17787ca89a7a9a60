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

/** The same start as SETTER, then the command as given: how long the host takes to start it, measured. */
const STARTER = `echo ready
read -r t || exit 2
exec "$@"`;

/**
 * How long after our line leaves the host answers through the privilege command and `date -u +%s`: the round trip
 * plus the start-up of both (doas, date), which `date -s` also pays before it sets the clock. Milliseconds.
 */
export function startupTime(s: HostSession, privilege: readonly string[], timeoutMs = 15_000): Promise<number> {
  return s.withSessionSlot(async () => {
    const ch = await openChannel(s, ['sh', '-c', STARTER, 'sh', ...privilege, 'date', '-u', '+%s'], undefined);
    s.trackChannel(ch);
    return new Promise<number>((resolve, reject) => {
      let out = '';
      let sentAt = 0;
      let answered = 0;
      const timer = setTimeout(() => {
        ch.close();
        reject(new Error('the host did not start date in time'));
      }, timeoutMs);
      ch.stderr.on('data', () => undefined);
      ch.on('data', (d: Buffer) => {
        const now = nowMs();
        if (out.length < 4096) out += d.toString('utf8');
        if (!sentAt && out.startsWith('ready\n')) {
          sentAt = nowMs();
          ch.write('go\n');
        } else if (sentAt && !answered && out.length > 'ready\n'.length) answered = now;
      });
      ch.on('close', () => {
        clearTimeout(timer);
        if (!answered || !/^ready\n[0-9]{1,20}\n?$/.test(out)) return reject(new Error(`the privilege command and date did not answer as expected: ${JSON.stringify(out.slice(0, 100))}`));
        resolve(answered - sentAt);
      });
    });
  });
}

export interface SetOutcome {
  /** the second sent */
  epochSeconds: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Sets the host's clock to the thin client's with `PRIVILEGE date -u -s @T`. Busybox's date sets whole seconds, so
 * the line with T is sent `oneWayMs` before the thin client's clock reaches T: the way there plus the start-up of
 * the privilege command and date (startupTime), so that the host's clock reads T when ours does.
 */
export function setClock(s: HostSession, prefix: readonly string[], oneWayMs: number, timeoutMs = 15_000): Promise<SetOutcome> {
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
          const plan = setSchedule(nowMs(), oneWayMs);
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
