import type { HostState } from '../../protocol/index.js';
import type { BarHost } from './model.js';

/** How bad a state is; each tone has one colour, chosen to read on the dark default bars of sway and waybar. */
export type Tone = 'ok' | 'busy' | 'down' | 'alert' | 'idle';

export const TONE_HEX: Record<Tone, string> = {
  ok: '#55dd55',
  busy: '#e5c07b',
  down: '#ff5555',
  alert: '#ff5555',
  idle: '#999999',
};

/**
 * A marker per state as well as a colour, so that states stay apart without colour (colour-blind users, a
 * monochrome bar). `alert` states need the user (a new key, a changed host key): bars draw them as urgent.
 */
export const STATE_LOOK: Record<HostState, { marker: string; tone: Tone }> = {
  online: { marker: '●', tone: 'ok' },
  connecting: { marker: '…', tone: 'busy' },
  provisioning: { marker: '⚙', tone: 'busy' },
  offline: { marker: '✖', tone: 'down' },
  'auth-failed': { marker: '⚠', tone: 'alert' },
  'hostkey-mismatch': { marker: '⚠', tone: 'alert' },
  unsupervised: { marker: '○', tone: 'idle' },
};

/**
 * Sound and clipboard of an online host, compactly: `♪` sound on, `♪✖` sound down (in the down colour), `⎘`
 * explicit clipboard, `⇄` automatic clipboard (in the busy colour: every copy moves). Nothing for off.
 */
export function desktopMarks(h: BarHost): { text: string; tone: Tone }[] {
  if (h.state !== 'online') return [];
  const marks: { text: string; tone: Tone }[] = [];
  if (h.sound === 'on') marks.push({ text: '♪', tone: 'idle' });
  else if (h.sound === 'down') marks.push({ text: '♪✖', tone: 'down' });
  if (h.clipboard === 'explicit') marks.push({ text: '⎘', tone: 'idle' });
  else if (h.clipboard === 'auto') marks.push({ text: '⇄', tone: 'busy' });
  return marks;
}

/** "0.4ms", "12ms"; empty when there is no measurement. */
export function rttText(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '';
  return ms < 100 ? `${ms.toFixed(1)}ms` : `${Math.round(ms)}ms`;
}

/** The text after a host's name: its round trip when online, else its state. */
export function stateLabel(h: BarHost): string {
  if (h.state === 'online') return rttText(h.rttMs) || 'online';
  return `${STATE_LOOK[h.state].marker} ${h.state}`;
}

/**
 * The marker of a host's automatic updates: `↑3` with pending upgrades, `↑…` while they run, in the warning
 * colour with a `!` after a failed last run; nothing when there is nothing to say.
 */
export function updatesMark(h: BarHost): { text: string; tone: Tone } | null {
  const u = h.updates;
  if (!u) return null;
  if (u.running) return { text: '↑…', tone: 'busy' };
  const n = u.pending ?? 0;
  if (u.last === 'failed') return { text: `↑${n || ''}!`, tone: 'busy' };
  return n > 0 ? { text: `↑${n}`, tone: 'idle' } : null;
}

/**
 * The end-of-life mark: `EOL v3.19` in the warning colour when the host's Alpine branch is past its end of support
 * (shown whatever the host's state: it stays true while the host is away); `text` is for tooltips.
 */
export function eolMark(h: BarHost): { mark: string; text: string; tone: Tone } | null {
  const r = h.updates?.release;
  if (r?.status !== 'eol') return null;
  return { mark: `EOL ${r.branch ?? ''}`.trim(), text: `Alpine ${r.branch ?? '?'} past its end of support since ${r.eol}`, tone: 'busy' };
}

/**
 * The posture audit's mark (towerctl audit): `⚑ open` in the warning colour when a check found the host exposed,
 * shown whatever the host's state (the finding stays true while it is away); nothing for ok or unknown.
 */
export function postureMark(h: BarHost): { text: string; tone: Tone } | null {
  return h.posture === 'open' ? { text: '⚑ open', tone: 'busy' } : null;
}

/**
 * The backup mark (towerctl backup): `⛁ no backup` or `⛁ backup 3d old` in the warning colour when a backup set of
 * the host has no backup newer than its maxAgeHours; nothing while every set is fresh or the host has none.
 */
export function backupMark(h: BarHost, now = Date.now()): { text: string; tone: Tone } | null {
  const b = h.backup;
  if (!b || !b.stale) return null;
  if (b.lastOkAt === null) return { text: '⛁ no backup', tone: 'busy' };
  const hours = Math.max(0, (now - Date.parse(b.lastOkAt)) / 3_600_000);
  return { text: `⛁ backup ${hours >= 48 ? `${Math.floor(hours / 24)}d` : hours >= 1 ? `${Math.floor(hours)}h` : `${Math.floor(hours * 60)}m`} old`, tone: 'busy' };
}

/** The summary's CSS class (waybar) and colour, most urgent first. */
export type SummaryClass = 'daemon-down' | 'some-down' | 'all-online' | 'unsupervised' | 'no-hosts';

export interface Summary {
  total: number;
  online: number;
  /** hosts in any state other than online and unsupervised: the same count as `towerctl status` */
  down: number;
  /** a host needs the user: auth-failed or hostkey-mismatch */
  alert: boolean;
  klass: Exclude<SummaryClass, 'daemon-down'>;
}

export function summarize(hosts: readonly BarHost[]): Summary {
  const online = hosts.filter((h) => h.state === 'online').length;
  const down = hosts.filter((h) => h.state !== 'online' && h.state !== 'unsupervised').length;
  const alert = hosts.some((h) => STATE_LOOK[h.state].tone === 'alert');
  const klass = hosts.length === 0 ? 'no-hosts' : down > 0 ? 'some-down' : online === hosts.length ? 'all-online' : 'unsupervised';
  return { total: hosts.length, online, down, alert, klass };
}

export const SUMMARY_TONE: Record<SummaryClass, Tone> = {
  'daemon-down': 'down',
  'some-down': 'down',
  'all-online': 'ok',
  unsupervised: 'idle',
  'no-hosts': 'idle',
};

/** "3/4", then " · 1 down" when some are down. */
export function summaryText(s: Summary): string {
  return `${s.online}/${s.total}${s.down ? ` · ${s.down} down` : ''}`;
}
