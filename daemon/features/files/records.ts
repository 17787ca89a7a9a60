// What towerd keeps on the thin client about transfers: the bounded log (~/.local/tower/files.log, JSON lines,
// names, sizes and hashes only) and the list of temporary folders not yet removed (files-pending.json).
import { appendFile, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod/mini';
import { FilesTransfer } from '../../../protocol/index.js';
import { readIfExists, writeFileAtomic } from '../../core/util/fs.js';

/** A files.log answer stays well under the 1 MiB frame. */
const MAX_ANSWER_BYTES = 600 * 1024;

export class TransferLog {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly maxBytes: () => number,
  ) {}

  static in(towerDir: string, maxBytes: () => number): TransferLog {
    return new TransferLog(join(towerDir, 'files.log'), maxBytes);
  }

  /** Append one record; when the file outgrows its cap, keep the newest records that fill half of it. */
  append(t: FilesTransfer): Promise<void> {
    const line = `${JSON.stringify(t)}\n`;
    this.chain = this.chain.then(async () => {
      await appendFile(this.path, line, { mode: 0o600 });
      const cap = this.maxBytes();
      if ((await stat(this.path)).size <= cap) return;
      const lines = (await readFile(this.path, 'utf8')).split('\n').filter((l) => l !== '');
      const kept: string[] = [];
      let size = 0;
      for (let i = lines.length - 1; i >= 0; i--) {
        const l = lines[i] as string;
        if (size + l.length + 1 > cap / 2 && kept.length) break;
        kept.push(l);
        size += l.length + 1;
      }
      await writeFileAtomic(this.path, kept.reverse().map((l) => `${l}\n`).join(''));
    });
    const done = this.chain;
    this.chain = this.chain.catch(() => undefined);
    return done;
  }

  /** The newest `n` records, oldest first; lines that do not parse are skipped. */
  async tail(n: number): Promise<FilesTransfer[]> {
    await this.chain;
    const text = (await readIfExists(this.path)) ?? '';
    const out: FilesTransfer[] = [];
    let size = 0;
    const lines = text.split('\n');
    for (let i = lines.length - 1; i >= 0 && out.length < n; i--) {
      const l = lines[i] as string;
      if (!l) continue;
      if (size + l.length > MAX_ANSWER_BYTES) break;
      let raw: unknown;
      try {
        raw = JSON.parse(l);
      } catch {
        continue;
      }
      const parsed = FilesTransfer.safeParse(raw);
      if (!parsed.success) continue;
      out.push(parsed.data);
      size += l.length;
    }
    return out.reverse();
  }
}

const Pending = z
  .array(
    z.object({
      end: z.string().check(z.maxLength(64)),
      tmp: z.string().check(z.maxLength(8192)),
      /** the transfer as it started: logged as failed when towerd finds its folder after a restart */
      transfer: z.optional(FilesTransfer),
    }),
  )
  .check(z.maxLength(10_000));
export type PendingTmp = z.infer<typeof Pending>[number];

/** Temporary folders created on an end and not yet removed or renamed away: cleaned on the next start or connection. */
export class PendingTmps {
  private list: PendingTmp[] = [];
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  static in(towerDir: string): PendingTmps {
    return new PendingTmps(join(towerDir, 'files-pending.json'));
  }

  async load(): Promise<PendingTmp[]> {
    const text = await readIfExists(this.path).catch(() => undefined);
    let raw: unknown;
    try {
      raw = text ? JSON.parse(text) : [];
    } catch {
      raw = [];
    }
    const parsed = Pending.safeParse(raw);
    this.list = parsed.success ? parsed.data : [];
    return [...this.list];
  }

  entries(): PendingTmp[] {
    return [...this.list];
  }

  add(e: PendingTmp): Promise<void> {
    this.list.push(e);
    return this.save();
  }

  remove(e: PendingTmp): Promise<void> {
    this.list = this.list.filter((x) => !(x.end === e.end && x.tmp === e.tmp));
    return this.save();
  }

  private save(): Promise<void> {
    const data = `${JSON.stringify(this.list)}\n`;
    this.chain = this.chain.then(() => writeFileAtomic(this.path, data)).catch(() => undefined);
    return this.chain;
  }
}
