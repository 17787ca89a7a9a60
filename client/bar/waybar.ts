// Waybar's custom module with `"return-type": "json"` and no `interval` (continuous mode): one JSON object per
// line. A custom module has a single text, so it shows the summary; each host is a line of the tooltip.
// Waybar parses text and tooltip as pango markup (unless "escape": true), so both are escaped here.
import { chip, colored, escapeMarkup } from './markup.js';
import type { BarHost, BarView } from './model.js';
import { exportWarning } from './export.js';
import { STATE_LOOK, TONE_HEX, stateLabel, summarize, summaryText, updatesMark, desktopMarks, postureMark, eolMark, backupMark, type SummaryClass } from './present.js';

export interface WaybarOutput {
  text: string;
  tooltip: string;
  /** CSS classes of the module: the first is one of SummaryClass, then `alert`, `registry-invalid`, `posture-open` and `eol` (a host past its Alpine branch’s end of support) */
  class: string[];
  /** online hosts in percent, for format-icons */
  percentage: number;
  /** the same as the first class, for format-icons keyed by state */
  alt: SummaryClass;
}

const ERROR_MAX = 120;

function hostLine(h: BarHost): string {
  const look = STATE_LOOK[h.state];
  const err = h.lastError && h.state !== 'online' ? ` (${h.lastError.length > ERROR_MAX ? h.lastError.slice(0, ERROR_MAX) + '…' : h.lastError})` : '';
  const mark = updatesMark(h);
  const upd = mark
    ? ` ${colored(mark.text, TONE_HEX[mark.tone])}${h.updates?.last === 'failed' && h.updates.reason ? escapeMarkup(` (updates failed: ${h.updates.reason.slice(0, ERROR_MAX)})`) : ''}`
    : '';
  const desk = desktopMarks(h).map((m) => ' ' + colored(m.text, TONE_HEX[m.tone])).join('');
  const posture = postureMark(h);
  const pos = posture ? ' ' + colored(posture.text, TONE_HEX[posture.tone]) : '';
  const eol = eolMark(h);
  const end = eol ? ` ${colored(eol.mark, TONE_HEX[eol.tone])}${escapeMarkup(` (${eol.text})`)}` : '';
  const backup = backupMark(h);
  const bk = backup ? ' ' + colored(backup.text, TONE_HEX[backup.tone]) : '';
  return `${chip(h.name, h.color.hex)} ${colored(stateLabel(h), TONE_HEX[look.tone])}${escapeMarkup(err)}${upd}${desk}${pos}${bk}${end}`;
}

export function waybarOutput(view: BarView): WaybarOutput {
  if (view.daemon === 'down')
    return { text: '⬤ towerd down', tooltip: 'towerd is not running; waiting for it to start', class: ['daemon-down'], percentage: 0, alt: 'daemon-down' };
  const s = summarize(view.hosts);
  const classes: string[] = [s.klass];
  if (s.alert) classes.push('alert');
  if (!view.registry.ok) classes.push('registry-invalid');
  const open = view.hosts.filter((h) => h.posture === 'open').length;
  if (open) classes.push('posture-open');
  if (view.hosts.some((h) => eolMark(h))) classes.push('eol');
  if (view.hosts.some((h) => h.backup?.stale)) classes.push('backup-stale');
  const head = `towerd: ${s.total ? `${s.online} of ${s.total} online${s.down ? `, ${s.down} down` : ''}` : 'no hosts'}`;
  const lines = [escapeMarkup(head), ...view.hosts.map(hostLine)];
  if (!view.registry.ok) lines.push(escapeMarkup(`⚠ registry on disk is invalid, not applied: ${view.registry.error ?? ''}`));
  const w = exportWarning(view.stateExport);
  if (w) {
    classes.push('export-stale');
    lines.push(colored(`${w.text}: ${w.detail}`, TONE_HEX[w.tone]));
  }
  return {
    text: escapeMarkup(`⬤ ${summaryText(s)}${open ? ` ⚑${open}` : ''}${view.registry.ok ? '' : ' ⚠'}${w ? ` ${w.short}` : ''}`),
    tooltip: lines.join('\n'),
    class: classes,
    percentage: s.total ? Math.round((100 * s.online) / s.total) : 0,
    alt: s.klass,
  };
}

export function renderWaybar(view: BarView): string {
  return JSON.stringify(waybarOutput(view));
}
