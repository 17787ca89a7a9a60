import { describe, expect, it } from 'vitest';
import type { JobInfo } from '../../protocol/index.js';
import { ProgressView, bytesText, progressLine } from '../../client/progress.js';

const job = (over: Partial<JobInfo>): JobInfo => ({
  id: 'j1',
  kind: 'provision',
  host: 'office',
  target: '/dev/sdb',
  phase: 'write',
  bytesDone: 0,
  bytesTotal: 512 * 1024 * 1024,
  bytesPerSecond: null,
  message: null,
  ...over,
});

function sink(columns = 80) {
  let text = '';
  const out = { columns, write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
  return { out, text: () => text };
}

describe('progress display', () => {
  it('one status line: bar, percentage, sizes, speed and time left', () => {
    const line = progressLine(job({ bytesDone: 256 * 1024 * 1024, bytesPerSecond: 16 * 1024 * 1024 }), 120);
    expect(line).toBe('writing     [####################....................]   50%  256.0 MiB/512.0 MiB  16.0 MiB/s  ETA 0:16');
    expect(progressLine(job({ bytesTotal: null, bytesDone: 3 * 1024 * 1024 }), 100)).toBe('writing     3.0 MiB');
    // a narrow terminal drops the bar, never the numbers
    expect(progressLine(job({ bytesDone: 1024 }), 40)).toBe('writing       0%  1.0 KiB/512.0 MiB');
    expect(progressLine(job({ phase: 'failed', message: 'no space' }), 80)).toBe('failed      no space');
    expect(bytesText(1536)).toBe('1.5 KiB');
  });

  it('on a terminal it redraws in place and ends with a newline', () => {
    const s = sink();
    const v = new ProgressView(s.out, 'tty');
    v.update(job({ bytesDone: 1 }));
    v.update(job({ bytesDone: 2 }));
    v.update(job({ phase: 'done', bytesDone: 512 * 1024 * 1024 }));
    expect(s.text().split('\r\x1b[K').length).toBe(4);
    expect(s.text().endsWith('\n')).toBe(true);
    expect(s.text().split('\n').length).toBe(2);
  });

  it('without a terminal: a line per phase and per 10 %; --json: the job objects', () => {
    const s = sink();
    const v = new ProgressView(s.out, 'lines');
    for (let i = 0; i <= 100; i++) v.update(job({ bytesDone: Math.round((512 * 1024 * 1024 * i) / 100) }));
    v.update(job({ phase: 'verify', bytesDone: 0 }));
    expect(s.text().trim().split('\n')).toHaveLength(12);
    const j = sink();
    new ProgressView(j.out, 'json').update(job({ bytesDone: 5 }));
    expect(JSON.parse(j.text())).toMatchObject({ host: 'office', bytesDone: 5 });
  });
});
