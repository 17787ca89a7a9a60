/** Small statistics helpers for benchmarks: numbers, not adjectives. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function summarize(samples: number[]): { n: number; median: number; p99: number; mean: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, median: percentile(s, 50), p99: percentile(s, 99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

export function fmtMs(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)}µs` : `${ms.toFixed(2)}ms`;
}

export interface Row {
  name: string;
  value: string;
  baseline: string;
  ratio: number;
  target?: string;
  ok?: boolean;
}

export function printRows(title: string, rows: Row[]): void {
  process.stdout.write(`\n${title}\n`);
  const w = [Math.max(...rows.map((r) => r.name.length)), 12, 12];
  for (const r of rows) {
    const verdict = r.ok === undefined ? '' : r.ok ? '  ok' : '  MISSED';
    process.stdout.write(
      `  ${r.name.padEnd(w[0]!)}  ${r.value.padStart(w[1]!)}  baseline ${r.baseline.padStart(w[2]!)}  ratio ${Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}×` : '-'.padStart(5)}${r.target ? `  target ${r.target}` : ''}${verdict}\n`,
    );
  }
}
