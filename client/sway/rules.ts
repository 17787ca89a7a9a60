// sway `for_window` rules that mark every window of a host with the host's colour.
//
// sway 1.7 has no per-window border colour (client.* colours are global), and a mark names one window only.
// What is per window is the title: title_format with pango markup puts a label in the host's colour at the
// start of the title bar, and `border normal N` keeps that title bar shown even where the user's default border
// hides it. Matching is on app_id (Wayland) and class (Xwayland), which Tower's launcher sets to tower-NAME; the
// title (which starts with [NAME]) is chosen by the remote application, so it is never used to pick a colour.
import { escapeMarkup, readableOn, safeHex } from '../bar/markup.js';
import type { HostInfo } from '../../protocol/index.js';

/** A superset of the names towerd accepts; anything else is skipped rather than put into a regex or a quote. */
const SAFE_NAME_RE = /^[a-z0-9-]{1,63}$/;

export interface RulesOptions {
  /** width in pixels of the border drawn around the title-bar-framed window */
  border: number;
}

export function hostRules(h: Pick<HostInfo, 'name' | 'color'>, opts: RulesOptions): string[] {
  const bg = safeHex(h.color.hex, '#ffffff');
  // single quotes inside the markup, so the sway argument needs only the outer double quotes
  const label = `<span background='${bg}' foreground='${readableOn(bg)}'> ${escapeMarkup(h.name)} </span> %title`;
  return [`app_id="^tower-${h.name}$"`, `class="^tower-${h.name}$"`].flatMap((criteria) => [
    `for_window [${criteria}] border normal ${opts.border}`,
    `for_window [${criteria}] title_format "${label}"`,
  ]);
}

export function swayRules(hosts: readonly Pick<HostInfo, 'name' | 'color'>[], opts: RulesOptions): string {
  const lines = [
    `# Tower: window colours for ${hosts.length} host${hosts.length === 1 ? '' : 's'}, made by \`towerctl sway rules\`.`,
    '# Regenerate after adding or removing hosts:',
    '#   towerctl sway rules > ~/.config/sway/tower-hosts.conf && swaymsg reload',
    "# The labels are pango markup: sway's font must be given as pango:… (see client/sway/tower.conf).",
  ];
  for (const h of hosts) {
    if (!SAFE_NAME_RE.test(h.name)) {
      lines.push(`# skipped a host whose name is not of a-z, 0-9 and -`);
      continue;
    }
    lines.push(`# ${h.name}: ${safeHex(h.color.hex, '#ffffff')}`, ...hostRules(h, opts));
  }
  return lines.join('\n') + '\n';
}
