// The i3bar/swaybar JSON status protocol (swaybar-protocol(7)): a header line, an endless JSON array whose
// elements are arrays of blocks, one element per line. Rendering is pure; the command decides when to print.
import { chip, colored, escapeMarkup } from './markup.js';
import type { BarHost, BarView } from './model.js';
import { exportWarning } from './export.js';
import { STATE_LOOK, SUMMARY_TONE, TONE_HEX, stateLabel, summarize, summaryText, updatesMark, desktopMarks, postureMark, eolMark, backupMark } from './present.js';

export const I3BAR_HEADER = '{"version":1,"click_events":true}';
/** The block name of hosts; click events carry it back, with the host name as instance. */
export const HOST_BLOCK = 'tower-host';

export interface I3Block {
  name: string;
  instance?: string;
  full_text: string;
  short_text?: string;
  color?: string;
  markup: 'pango';
  urgent?: boolean;
}

function hostBlock(h: BarHost): I3Block {
  const look = STATE_LOOK[h.state];
  const alert = look.tone === 'alert';
  // urgent blocks get the bar's urgent colours; a state colour on top of them would be hard to read
  const tinted = (text: string) => (alert ? escapeMarkup(text) : colored(text, TONE_HEX[look.tone]));
  const name = chip(h.name, h.color.hex);
  const mark = updatesMark(h);
  const posture = postureMark(h);
  const eol = eolMark(h);
  const backup = backupMark(h);
  const block: I3Block = {
    name: HOST_BLOCK,
    instance: h.name,
    full_text: `${name} ${tinted(stateLabel(h))}${mark ? ' ' + colored(mark.text, TONE_HEX[mark.tone]) : ''}${desktopMarks(h).map((m) => ' ' + colored(m.text, TONE_HEX[m.tone])).join('')}${posture ? ' ' + colored(posture.text, TONE_HEX[posture.tone]) : ''}${backup ? ' ' + colored(backup.text, TONE_HEX[backup.tone]) : ''}${eol ? ' ' + colored(eol.mark, TONE_HEX[eol.tone]) : ''}`,
    short_text: `${name} ${tinted(look.marker)}${posture ? colored('⚑', TONE_HEX[posture.tone]) : ''}`,
    markup: 'pango',
  };
  if (alert) block.urgent = true;
  else block.color = TONE_HEX[look.tone];
  return block;
}

const openCount = (hosts: readonly BarHost[]) => hosts.filter((h) => h.posture === 'open').length;

export function i3barBlocks(view: BarView): I3Block[] {
  if (view.daemon === 'down')
    return [{ name: 'tower-daemon', full_text: 'towerd down', short_text: 'towerd ✖', color: TONE_HEX.down, markup: 'pango' }];
  const s = summarize(view.hosts);
  const summary: I3Block = {
    name: 'tower-summary',
    full_text: escapeMarkup(`tower ${summaryText(s)}${openCount(view.hosts) ? ` · ⚑ ${openCount(view.hosts)} open` : ''}${view.registry.ok ? '' : ' · ⚠ registry invalid'}`),
    short_text: escapeMarkup(`${s.online}/${s.total}`),
    color: TONE_HEX[view.registry.ok ? SUMMARY_TONE[s.klass] : 'alert'],
    markup: 'pango',
  };
  if (!view.registry.ok) summary.urgent = true;
  const w = exportWarning(view.stateExport);
  const exportBlock: I3Block[] = w ? [{ name: 'tower-export', full_text: escapeMarkup(w.text), short_text: escapeMarkup(w.short), color: TONE_HEX[w.tone], markup: 'pango' }] : [];
  return [summary, ...view.hosts.map(hostBlock), ...exportBlock];
}

/** One status line: the JSON array of blocks. */
export function renderI3bar(view: BarView): string {
  return JSON.stringify(i3barBlocks(view));
}

/** Every element after the first is preceded by a comma: the endless array stays valid JSON as it grows. */
export function frameI3bar(line: string, first: boolean): string {
  return first ? line : ',' + line;
}
