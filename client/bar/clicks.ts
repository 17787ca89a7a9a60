// Click events from swaybar/i3bar on stdin: an endless JSON array, one element per line, that is
// "[" on its own line (or glued to the first object), then "{...}", then ",{...}" for every later click.

export interface Click {
  name: string;
  instance: string | undefined;
  /** X11 button number: 1 left, 2 middle, 3 right, 4/5 wheel */
  button: number;
}

export const BUTTON_LEFT = 1;
export const BUTTON_RIGHT = 3;

/** A click line is about 200 bytes; anything far longer is not from a bar and is dropped unread. */
export const MAX_CLICK_LINE = 64 * 1024;

/** One line of the stream as a click, or undefined for the array's punctuation and for anything malformed. */
export function parseClickLine(line: string): Click | undefined {
  let s = line.trim();
  if (s.startsWith('[')) s = s.slice(1).trimStart();
  if (s.startsWith(',')) s = s.slice(1).trimStart();
  if (s.endsWith(',')) s = s.slice(0, -1).trimEnd();
  if (s.endsWith(']')) s = s.slice(0, -1).trimEnd();
  if (!s.startsWith('{')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    return undefined; // a broken line must not stop the bar; the next click may be fine
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.name !== 'string' || typeof o.button !== 'number' || !Number.isInteger(o.button)) return undefined;
  return { name: o.name, instance: typeof o.instance === 'string' ? o.instance : undefined, button: o.button };
}

/** Splits a byte stream into lines, dropping lines longer than `max` instead of buffering them. */
export class LineSplitter {
  private buf = '';
  private skipping = false;

  constructor(private readonly max = MAX_CLICK_LINE) {}

  push(chunk: string): string[] {
    const out: string[] = [];
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf('\n', start)) >= 0) {
      const piece = chunk.slice(start, nl);
      if (!this.skipping && this.buf.length + piece.length <= this.max) out.push(this.buf + piece);
      this.buf = '';
      this.skipping = false;
      start = nl + 1;
    }
    if (!this.skipping) {
      this.buf += chunk.slice(start);
      if (this.buf.length > this.max) {
        this.buf = '';
        this.skipping = true;
      }
    }
    return out;
  }
}
