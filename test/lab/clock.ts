// A faked clock for one lab host. Lab hosts share the machine's kernel clock; libfaketime (Debian package
// libfaketime) gives every process of the host's ssh sessions a clock offset read from /run/lab/faketime, which the
// lab's `date -s` (date-standin.py) rewrites. The machine's clock is never set. See README.md, "Host clocks".
import { existsSync } from 'node:fs';
import type { Lab } from './types.js';

const LIBS = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1'];
/** Inside a host: the offset file libfaketime reads on every clock read (FAKETIME_NO_CACHE). */
export const FAKETIME_FILE = '/run/lab/faketime';

export function faketimeLib(): string {
  const lib = LIBS.find((l) => existsSync(l));
  if (!lib) throw new Error('faked host clocks need libfaketime (Debian package libfaketime; scripts/system-deps.sh)');
  return lib;
}

/** The environment that puts a process on the host's faked clock (wall clock only; monotonic clocks stay real). */
export function faketimeEnv(): Record<string, string> {
  return { LD_PRELOAD: faketimeLib(), FAKETIME_TIMESTAMP_FILE: FAKETIME_FILE, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}

/**
 * Puts the host's clock `offsetSeconds` away from the machine's: writes the offset file and restarts its sshd with
 * the faketime environment for every session (SetEnv). Connections made before keep the real clock, so call it
 * before towerd connects.
 */
export async function fakeClock(lab: Lab, name: string, offsetSeconds: number): Promise<void> {
  const env = Object.entries(faketimeEnv()).map(([k, v]) => `${k}=${v}`).join(' ');
  const write = await lab.execHost(name, ['sh', '-c', 'umask 022 && printf "%s\\n" "$1" >"$2.new" && mv "$2.new" "$2"', 'sh', `${offsetSeconds >= 0 ? '+' : ''}${offsetSeconds}`, FAKETIME_FILE]);
  if (write.code !== 0) throw new Error(`${name}: cannot write ${FAKETIME_FILE}: ${write.stderr}`);
  const cfg = await lab.execHost(name, ['cat', '/run/lab/sshd_config']);
  if (cfg.code !== 0) throw new Error(`${name}: cannot read sshd_config: ${cfg.stderr}`);
  const lines = cfg.stdout.split('\n').filter((l) => !/^SetEnv /.test(l) || /^SetEnv PATH=/.test(l));
  const at = lines.findIndex((l) => /^SetEnv PATH=/.test(l));
  // one SetEnv line: sshd takes the first value of each variable
  if (at >= 0) lines[at] = `${lines[at]!.split(' ').slice(0, 2).join(' ')} ${env}`;
  else lines.push(`SetEnv ${env}`);
  const put = await lab.execHost(name, ['sh', '-c', 'cat >/run/lab/sshd_config'], { input: lines.join('\n').replace(/\n*$/, '\n') });
  if (put.code !== 0) throw new Error(`${name}: cannot write sshd_config: ${put.stderr}`);
  await lab.stopSshd(name);
  await lab.startSshd(name);
}

/** The host's clock minus the machine's, ms, read on the host's faked clock (python3's time_ns, as towerd reads it). */
export async function hostClockOffset(lab: Lab, name: string): Promise<number> {
  const before = Date.now();
  const r = await lab.execHost(name, ['python3', '-c', 'import time; print(time.time_ns())'], { user: lab.hosts[0]!.user, env: faketimeEnv() });
  const after = Date.now();
  if (r.code !== 0) throw new Error(`${name}: cannot read its clock: ${r.stderr}`);
  const hostMs = Number(BigInt(r.stdout.trim()) / 1_000_000n);
  // the host read its clock somewhere between before and after
  return hostMs - (before + after) / 2;
}
