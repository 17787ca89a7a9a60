// Icons from hosts: PNG by its signature and header, SVG only without anything that runs or fetches.

export type IconKind = 'png' | 'svg';

export type IconCheck = { ok: true; kind: IconKind; size: string } | { ok: false; reason: string };

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A PNG: the signature, then an IHDR chunk of 13 bytes with a width and height from 1 to 1024. */
export function checkPng(b: Buffer): IconCheck {
  if (b.length < 33 || !b.subarray(0, 8).equals(PNG_SIGNATURE)) return { ok: false, reason: 'not a PNG (signature)' };
  if (b.readUInt32BE(8) !== 13 || b.subarray(12, 16).toString('latin1') !== 'IHDR') return { ok: false, reason: 'not a PNG (no IHDR first)' };
  const w = b.readUInt32BE(16);
  const h = b.readUInt32BE(20);
  if (w < 1 || h < 1 || w > 1024 || h > 1024) return { ok: false, reason: `a PNG of ${w}x${h} (at most 1024x1024)` };
  return { ok: true, kind: 'png', size: `${w}x${h}` };
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * An SVG that a renderer can only draw: UTF-8, an <svg> element, and none of: scripts, event attributes (on…=),
 * <foreignObject>, DOCTYPE or entities, stylesheets, and references (href, xlink:href, url(), @import) to anything
 * but a #fragment of the file itself.
 */
export function checkSvg(b: Buffer): IconCheck {
  let text: string;
  try {
    text = decoder.decode(b);
  } catch {
    return { ok: false, reason: 'an SVG that is not UTF-8' };
  }
  const t = text.toLowerCase();
  if (!/<svg[\s>]/.test(t)) return { ok: false, reason: 'no <svg> element' };
  if (t.includes('\0')) return { ok: false, reason: 'an SVG with NUL bytes' };
  if (/<\s*(?:[a-z0-9_-]+:)?script/.test(t)) return { ok: false, reason: 'an SVG with a <script>' };
  if (/<\s*(?:[a-z0-9_-]+:)?foreignobject/.test(t)) return { ok: false, reason: 'an SVG with a <foreignObject>' };
  if (/<!doctype|<!entity/.test(t)) return { ok: false, reason: 'an SVG with a DOCTYPE or entities' };
  if (/<\?xml-stylesheet/.test(t)) return { ok: false, reason: 'an SVG with a stylesheet reference' };
  if (/[\s/"']on[a-z]+\s*=/.test(t)) return { ok: false, reason: 'an SVG with an event attribute (on…=)' };
  if (/@import/.test(t)) return { ok: false, reason: 'an SVG with a CSS @import' };
  // every href (plain, xlink: or any prefix) must be a #fragment, and so must every url(...)
  for (const m of t.matchAll(/(?:^|[\s:])href\s*=\s*(["'])(.*?)\1/g)) {
    if (!m[2]!.trim().startsWith('#')) return { ok: false, reason: 'an SVG with an external reference (href)' };
  }
  if (/(?:^|[\s:])href\s*=\s*[^\s"']/.test(t)) return { ok: false, reason: 'an SVG with an unquoted href' };
  for (const m of t.matchAll(/url\(\s*(["']?)(.*?)\1\s*\)/g)) {
    if (!m[2]!.trim().startsWith('#')) return { ok: false, reason: 'an SVG with an external reference (url())' };
  }
  return { ok: true, kind: 'svg', size: 'scalable' };
}

export function checkIcon(ext: string, b: Buffer): IconCheck {
  if (ext === 'png') return checkPng(b);
  if (ext === 'svg') return checkSvg(b);
  return { ok: false, reason: `an icon of type ${ext} (only PNG and SVG)` };
}
