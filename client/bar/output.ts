import { I3BAR_HEADER, frameI3bar, renderI3bar } from './i3bar.js';
import type { BarView } from './model.js';
import { renderWaybar } from './waybar.js';

export const FORMATS = ['i3bar', 'waybar'] as const;
export type Format = (typeof FORMATS)[number];

interface FormatSpec {
  /** lines printed once, before any status */
  preamble: string[];
  render(view: BarView): string;
  frame(line: string, first: boolean): string;
}

const SPECS: Record<Format, FormatSpec> = {
  // "[" opens the endless array of status lines
  i3bar: { preamble: [I3BAR_HEADER, '['], render: renderI3bar, frame: frameI3bar },
  waybar: { preamble: [], render: renderWaybar, frame: (line) => line },
};

/**
 * Prints a view only when its rendering differs from the last one printed. Events that change nothing on screen
 * (a registry reload with the same hosts, an add followed by its registry.changed) print nothing, so the bar
 * redraws exactly when something it shows has changed.
 */
export class ChangePrinter {
  private last: string | undefined;
  private readonly spec: FormatSpec;

  constructor(
    format: Format,
    private readonly write: (text: string) => void,
  ) {
    this.spec = SPECS[format];
  }

  start(): void {
    for (const l of this.spec.preamble) this.write(l + '\n');
  }

  /** Returns whether a line was printed. */
  show(view: BarView): boolean {
    const line = this.spec.render(view);
    if (line === this.last) return false;
    const first = this.last === undefined;
    this.last = line;
    // one write per line: on a pipe Node writes synchronously, so the bar sees each line as soon as it is made
    this.write(this.spec.frame(line, first) + '\n');
    return true;
  }
}
