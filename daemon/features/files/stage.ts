// One transfer's data path: each source path's `tar c` is parsed (tar-stream), every entry checked (check.ts),
// and what passes is written as a fresh tar stream into the target's `tar x`, which unpacks into a temporary folder.
import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import tarStream from 'tar-stream';
import type { FilesEntry, FilesRefusal } from '../../../protocol/index.js';
import { EntryChecker, displayName, type Limits } from './check.js';
import type { End, Proc, SourcePath, TopEntry } from './ends.js';

/** GNU long names and pax headers are read whole by tar-stream: anything longer than this is refused unread. */
export const MAX_LONG_HEADER_BYTES = 64 * 1024;

type ExtractCtor = new (opts?: tarStream.ExtractOptions) => tarStream.Extract;
interface ExtractInternals {
  _longHeader: boolean;
  _header: { size: number; type: string } | null;
  _consumeHeader(): boolean;
  destroy(err: Error): void;
}
// tar-stream 3 exports a factory, not the class; the class is what the factory builds
const ExtractBase = (Object.getPrototypeOf(tarStream.extract()) as { constructor: ExtractCtor }).constructor;

/** tar-stream's extractor with a cap on the long-name and pax headers it would otherwise buffer at any size. */
class CappedExtract extends ExtractBase {
  _consumeHeader(): boolean {
    const self = this as unknown as ExtractInternals;
    const r = (ExtractBase.prototype as unknown as ExtractInternals)._consumeHeader.call(this);
    if (self._longHeader && self._header && self._header.size > MAX_LONG_HEADER_BYTES) {
      self.destroy(new Error(`a ${self._header.type} of ${self._header.size} bytes (more than ${MAX_LONG_HEADER_BYTES})`));
      return false;
    }
    return r;
  }
}

export class Refused extends Error {
  constructor(readonly refusals: FilesRefusal[]) {
    super(`refused: ${refusals.map((r) => `${r.name}: ${r.reason}`).join('; ').slice(0, 1500)}`);
  }
}

export interface StageDeps {
  limits: Limits;
  signal: AbortSignal;
  progress(bytes: number, entries: number, current: string | null): void;
}

export interface StageResult {
  entries: FilesEntry[];
  entryCount: number;
  bytes: number;
  top: TopEntry[];
}

const MAX_REFUSALS = 100;
/** the entries listed in a reply and a log record stay well within one 1 MiB frame */
const MAX_LISTED_NAME_BYTES = 256 * 1024;

/**
 * Read every source path from `source` and unpack what passes into `tmp` on `target`. Resolves when the target's
 * tar exited 0 after the whole stream; rejects with Refused (every refusal seen, by name) or the first failure.
 * The caller removes `tmp` on rejection.
 */
export async function stage(source: End, paths: SourcePath[], target: End, tmp: string, deps: StageDeps, keepEntries: number): Promise<StageResult> {
  const checker = new EntryChecker(deps.limits);
  const entries: FilesEntry[] = [];
  const refusals: FilesRefusal[] = [];
  const top = new Map<string, TopEntry['type']>();
  const procs = new Set<Proc<Readable | Writable>>();
  let failure: Error | undefined;
  let failNow: (err: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => {
    failNow = (err) => {
      if (failure) return;
      failure = err;
      for (const p of procs) p.kill();
      reject(err);
    };
  });
  failed.catch(() => undefined);
  const onAbort = () => failNow(deps.signal.reason instanceof Error ? deps.signal.reason : new Error('aborted'));
  if (deps.signal.aborted) onAbort();
  deps.signal.addEventListener('abort', onAbort, { once: true });

  const x = await target.extract(tmp);
  procs.add(x);
  const pack = tarStream.pack({ highWaterMark: 1024 * 1024 });
  let finalized = false;
  let abandoned = false;
  x.stream.on('error', (err: Error) => {
    if (!abandoned) failNow(new Error(`writing to ${target.name} failed: ${err.message}`));
  });
  void x.done.then((exit) => {
    if (abandoned) return;
    if (!finalized || exit.code !== 0) failNow(new Error(`tar on ${target.name} stopped${exit.code === null ? '' : ` (exit ${exit.code})`}${exit.stderr ? `: ${exit.stderr}` : ''}`));
  });
  pack.on('error', () => undefined);
  // write, drain, end by hand: the same backpressure as pipe, with nothing of streamx's pipeline on the channel
  pack.on('data', (b: Buffer) => {
    if (!x.stream.write(b)) {
      pack.pause();
      x.stream.once('drain', () => pack.resume());
    }
  });
  pack.on('end', () => x.stream.end());
  /** after the first refusal nothing more goes to the target: its tar is stopped, the folder removed by the caller */
  const abandon = () => {
    if (abandoned) return;
    abandoned = true;
    pack.destroy();
    x.kill();
  };

  let bytes = 0;
  let current: string | null = null;
  let listedBytes = 0;
  const list = (e: FilesEntry) => {
    if (entries.length >= keepEntries || listedBytes + e.name.length > MAX_LISTED_NAME_BYTES) return;
    entries.push(e);
    listedBytes += e.name.length;
  };
  let skipped = 0;
  let halted = false;
  /** record a refusal; true when reading must stop (too many refusals, or refused data past the byte cap) */
  const refuse = (raw: string, reason: string, size: number): boolean => {
    if (refusals.length < MAX_REFUSALS) refusals.push({ name: displayName(raw), reason });
    abandon();
    skipped += Number.isSafeInteger(size) && size > 0 ? size : 0;
    return refusals.length >= MAX_REFUSALS || checker.bytes + skipped > deps.limits.maxBytes;
  };

  const readOne = (src: SourcePath, proc: Proc<Readable>) =>
    new Promise<void>((resolve, reject) => {
      const ex = new CappedExtract({ highWaterMark: 1024 * 1024 });
      let stopped = false;
      ex.on('entry', (h: tarStream.Headers, stream: Readable, next: (err?: unknown) => void) => {
        stream.on('error', () => undefined);
        const skip = () => {
          stream.on('end', () => next());
          stream.resume();
        };
        if (failure) return;
        const c = checker.check({ name: h.name, type: h.type ?? null, size: h.size ?? 0, mode: h.mode ?? 0, linkname: h.linkname ?? null }, src.base);
        if (!c.ok) {
          if (refuse(h.name, c.reason, h.size ?? 0) || c.stop) {
            stopped = true;
            halted = true;
            proc.kill();
            ex.destroy();
            resolve();
            return;
          }
          return skip();
        }
        if (c.name === src.base) top.set(c.name, c.type);
        if (refusals.length) return skip();
        current = c.name;
        deps.progress(bytes, checker.entries, current);
        if (c.type === 'directory') {
          list({ name: c.name, type: 'directory', size: 0, sha256: null });
          pack.entry({ name: c.name, type: 'directory', mode: c.mode, mtime: h.mtime ?? new Date(0) }, (err) => (err ? undefined : next()));
          stream.resume();
          return;
        }
        const hash = createHash('sha256');
        const w = pack.entry({ name: c.name, type: 'file', size: c.size, mode: c.mode, mtime: h.mtime ?? new Date(0) }, (err) => {
          if (err) return; // the pack was destroyed: abandoned or failed, reported there
          list({ name: c.name, type: 'file', size: c.size, sha256: hash.digest('hex') });
          next();
        });
        w.on('error', () => undefined);
        stream.on('data', (d: Buffer) => {
          hash.update(d);
          bytes += d.length;
          deps.progress(bytes, checker.entries, current);
          if (abandoned || failure) return;
          if (!w.write(d)) {
            stream.pause();
            w.once('drain', () => stream.resume());
          }
        });
        stream.on('end', () => {
          if (abandoned) next();
          else w.end();
        });
      });
      ex.on('error', (err: Error) => {
        if (!stopped) reject(new Error(`the tar stream from ${source.name} is not valid at ${displayName(current ?? src.base)}: ${err.message}`));
      });
      const parsed = new Promise<void>((res) => ex.on('finish', () => res()));
      proc.stream.on('error', () => undefined);
      proc.stream.pipe(ex);
      void Promise.all([parsed, proc.done]).then(([, exit]) => {
        if (stopped) return;
        if (exit.code !== 0) reject(new Error(`tar on ${source.name} failed for ${src.path}${exit.code === null ? '' : ` (exit ${exit.code})`}${exit.stderr ? `: ${exit.stderr}` : ''}`));
        else resolve();
      });
    });

  const work = async (): Promise<StageResult> => {
    for (const src of paths) {
      if (failure || halted) break;
      const proc = await source.create(src);
      procs.add(proc);
      try {
        await readOne(src, proc);
      } finally {
        procs.delete(proc);
      }
      if (checker.entries && !top.has(src.base) && !refusals.length) top.set(src.base, 'directory');
    }
    if (refusals.length) {
      await x.done;
      throw new Refused(refusals);
    }
    finalized = true;
    pack.finalize();
    const exit = await x.done;
    if (exit.code !== 0) throw new Error(`tar on ${target.name} failed${exit.stderr ? `: ${exit.stderr}` : ''}`);
    return { entries, entryCount: checker.entries, bytes, top: paths.filter((p) => top.has(p.base)).map((p) => ({ name: p.base, type: top.get(p.base) ?? 'directory' })) };
  };

  try {
    return await Promise.race([work(), failed]);
  } catch (err) {
    abandon();
    if (refusals.length) throw new Refused(refusals);
    throw err;
  } finally {
    deps.signal.removeEventListener('abort', onAbort);
    for (const p of procs) p.kill();
  }
}

