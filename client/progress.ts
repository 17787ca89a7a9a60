import type { JobInfo } from '../protocol/index.js';
import { bytesText } from '../daemon/shared/bytes.js';
import { escapeControls, jsonText } from './render.js';

export { bytesText };

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}` : `${m}:${String(s % 60).padStart(2, '0')}`;
}

const PHASE_TEXT: Record<JobInfo['phase'], string> = {
  register: 'registering',
  write: 'writing',
  verify: 'verifying',
  inject: 'boot files',
  upload: 'to the host',
  done: 'done',
  failed: 'failed',
};

/** The one status line of a job on a terminal of `width` columns: phase, bar, percentage, sizes, speed, time left. */
export function progressLine(job: JobInfo, width: number): string {
  const label = PHASE_TEXT[job.phase].padEnd(12);
  if (job.phase === 'register') return `${label}${escapeControls(job.host)}: keys, tower.env, address, known_hosts`;
  if (job.phase === 'inject') return `${label}tower.env, crypto_keyfile.bin and host keys onto the boot partition`;
  if (job.phase === 'failed') return `${label}${escapeControls(job.message ?? '')}`;
  const total = job.bytesTotal;
  const frac = total ? Math.min(1, job.bytesDone / total) : null;
  const sizes = total ? `${bytesText(job.bytesDone)}/${bytesText(total)}` : bytesText(job.bytesDone);
  const rate = job.bytesPerSecond ? `${bytesText(job.bytesPerSecond)}/s` : '';
  const eta = frac !== null && job.bytesPerSecond && frac < 1 ? `ETA ${clock((total! - job.bytesDone) / job.bytesPerSecond)}` : '';
  const pct = frac === null ? '' : `${Math.floor(frac * 100)}%`.padStart(4);
  const tail = [pct, sizes, rate, eta].filter(Boolean).join('  ');
  const barWidth = Math.min(40, width - label.length - tail.length - 4);
  if (frac === null || barWidth < 10) return `${label}${tail}`;
  const filled = Math.round(frac * barWidth);
  return `${label}[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]  ${tail}`;
}

/**
 * Shows a job's progress: on a terminal one status line redrawn in place (\r); otherwise a plain line per phase and
 * per 10 % (a log stays readable), or the protocol's job objects as JSON lines.
 */
export class ProgressView {
  private lastTenth = -1;
  private lastPhase: string | undefined;
  private open = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly mode: 'tty' | 'lines' | 'json',
  ) {}

  update(job: JobInfo): void {
    if (this.mode === 'json') {
      this.out.write(jsonText(job) + '\n');
      return;
    }
    if (this.mode === 'tty') {
      const width = this.out.columns || 80;
      this.out.write(`\r\x1b[K${progressLine(job, width).slice(0, width - 1)}`);
      this.open = true;
      if (job.phase === 'done' || job.phase === 'failed') this.end();
      return;
    }
    const tenth = job.bytesTotal ? Math.floor((job.bytesDone / job.bytesTotal) * 10) : -1;
    if (job.phase !== this.lastPhase || (tenth !== this.lastTenth && tenth >= 0)) {
      this.out.write(progressLine(job, 100) + '\n');
      this.lastPhase = job.phase;
      this.lastTenth = tenth;
    }
  }

  /** Finish the status line so that what follows starts on a line of its own. */
  end(): void {
    if (this.open) this.out.write('\n');
    this.open = false;
  }
}
