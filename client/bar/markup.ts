// Pango markup pieces for swaybar, i3bar and waybar. Everything that came from towerd or a host is escaped here,
// so a host error message such as "<b>" or "&" can never change how the bar is drawn (or break its parser).

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

// GMarkup refuses most C0 controls even as entities: a single one would make the whole text fail to render
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;

export function escapeMarkup(text: string): string {
  return text.replace(CONTROL_RE, '\ufffd').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

const HEX_RE = /^#[0-9a-fA-F]{6}$/;

/** The colour if it is exactly #rrggbb, else the fallback: a colour is also written into attribute values. */
export function safeHex(hex: string, fallback: string): string {
  return HEX_RE.test(hex) ? hex.toLowerCase() : fallback;
}

/** Text in a colour; the text is escaped, the colour checked. */
export function colored(text: string, hex: string, fallback = '#ffffff'): string {
  return `<span foreground="${safeHex(hex, fallback)}">${escapeMarkup(text)}</span>`;
}

/** A name as a chip: the host's colour as background with black or white text, readable on any bar. */
export function chip(text: string, hex: string, fallback = '#ffffff'): string {
  const bg = safeHex(hex, fallback);
  return `<span background="${bg}" foreground="${readableOn(bg)}"> ${escapeMarkup(text)} </span>`;
}

/** Black or white, whichever reads better on this background (WCAG contrast of relative luminances). */
export function readableOn(hex: string): '#000000' | '#ffffff' {
  const c = safeHex(hex, '#000000');
  const lin = (i: number) => {
    const v = parseInt(c.slice(i, i + 2), 16) / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * lin(1) + 0.7152 * lin(3) + 0.0722 * lin(5);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? '#000000' : '#ffffff';
}
