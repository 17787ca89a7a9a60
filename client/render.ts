import { styleText } from 'node:util';
import type { HostInfo, HostState } from '../protocol/index.js';

/** Colour only on a terminal and never when NO_COLOR is set (FORCE_COLOR forces it on). */
export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR) return false;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

/* eslint-disable no-control-regex */
const CONTROLS = /[\x00-\x1f\x7f-\x9f]/g;
const CONTROLS_BUT_NEWLINE = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/g;
const JSON_UNESCAPED_CONTROLS = /[\x7f-\x9f]/g;
/* eslint-enable no-control-regex */
const hex = (c: string) => c.charCodeAt(0).toString(16).padStart(2, '0');

/**
 * Text that came from towerd, and through it often from a host (apk's or xclip's stderr, a relay request, a log
 * record), made inert for a terminal: every C0 control, DEL and C1 control becomes `\xNN`. Printed raw, a host
 * could send escape sequences to the thin client's terminal: OSC 52 sets its clipboard, others retitle the window,
 * move the cursor or hide text. Every human rendering of such text goes through this (exec's streams are the
 * command's own bytes and do not). `lines` keeps \n as a line break where the text is meant to span lines; in a
 * table cell or a one-line message it is escaped too.
 */
export function escapeControls(text: string, lines = false): string {
  return text.replace(lines ? CONTROLS_BUT_NEWLINE : CONTROLS, (c) => `\\x${hex(c)}`);
}

/**
 * JSON as JSON.stringify writes it, with DEL and the C1 controls written as \u escapes too (JSON.stringify only
 * escapes C0): the same value for a parser, nothing a terminal acts on when it is printed.
 */
export function jsonText(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(JSON_UNESCAPED_CONTROLS, (c) => `\\u00${hex(c)}`);
}

type Style = Parameters<typeof styleText>[0];

export function style(s: Style, text: string, color = useColor()): string {
  return color ? styleText(s, text) : text;
}

/** A host's name in its TowerOS colour (tower.env COLOR is an ANSI SGR code). */
export function hostColor(h: Pick<HostInfo, 'name' | 'color'>, color = useColor()): string {
  const name = escapeControls(h.name);
  return color ? `\x1b[${h.color.code}m${name}\x1b[39m` : name;
}

const STATE_STYLE: Record<HostState, Style> = {
  online: 'green',
  connecting: 'yellow',
  provisioning: 'yellow',
  offline: 'red',
  'auth-failed': 'red',
  'hostkey-mismatch': ['red', 'bold'],
  unsupervised: 'gray',
};

export function stateText(state: HostState, color = useColor()): string {
  return style(STATE_STYLE[state], state, color);
}

// eslint-disable-next-line no-control-regex
const ANSI_RE = /\x1b\[[0-9;]*m/g;
function visibleWidth(s: string): number {
  return [...s.replace(ANSI_RE, '')].length;
}

/** Left-aligned columns separated by two spaces; widths ignore colour codes. */
export function table(headers: string[], rows: string[][], color = useColor()): string {
  const widths = headers.map((h, i) => Math.max(visibleWidth(h), ...rows.map((r) => visibleWidth(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visibleWidth(c))))
      .join('  ')
      .trimEnd();
  return [style('bold', line(headers), color), ...rows.map(line)].join('\n') + '\n';
}

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** "3s ago" for an ISO time, "-" for none. */
export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return '-';
  return `${formatDuration(Math.max(0, now - Date.parse(iso)))} ago`;
}

export function json(value: unknown): string {
  return jsonText(value, 2) + '\n';
}
