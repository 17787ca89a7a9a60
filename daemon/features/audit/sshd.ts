// sshd's effective settings as sshd itself computes them (`sshd -T`: the config file with its includes and
// defaults), so a commented-out line or a later override cannot mislead the check the way reading the file could.
import type { AuditCheck } from '../../../protocol/index.js';

/** The settings TowerOS's installer hardens (install-host.sh), each with the one value that passes. */
export const SSHD_REQUIRED: readonly [key: string, value: string][] = [
  ['passwordauthentication', 'no'],
  ['kbdinteractiveauthentication', 'no'],
  ['permitrootlogin', 'no'],
  ['permitemptypasswords', 'no'],
];

/** argv of `sshd -T` under the privilege command (it reads the host keys, so it needs root). */
export function sshdArgv(privilege: readonly string[], config: string | null): string[] {
  return [...privilege, '/usr/sbin/sshd', '-T', ...(config ? ['-f', config] : [])];
}

/** `sshd -T` prints `keyword value` lines, keywords in lower case; only the keywords asked for are kept. */
export function parseSshdT(text: string): Map<string, string> {
  const wanted = new Set(SSHD_REQUIRED.map(([k]) => k));
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([a-z0-9]{1,64}) (.{0,200})$/.exec(line);
    if (m && wanted.has(m[1]!) && !out.has(m[1]!)) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** One check per required setting; a setting sshd did not print is unknown (an sshd older than the keyword). */
export function sshdChecks(settings: Map<string, string>): AuditCheck[] {
  return SSHD_REQUIRED.map(([key, want]) => {
    const value = settings.get(key);
    return {
      check: `sshd ${key}`,
      target: null,
      expect: want,
      seen: value ?? 'not reported',
      status: value === undefined ? 'unknown' : value === want ? 'ok' : 'open',
    };
  });
}
