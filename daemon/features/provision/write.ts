import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { ImageInfo } from '../../../protocol/index.js';
import { openImageStream } from './image.js';
import { TargetRefusedError, humanBytes, type CheckedTarget } from './target.js';
import { toolEnv } from './tool.js';

const BLOCK = 4 * 1024 * 1024;
const ZERO = Buffer.alloc(BLOCK);
/** Devices are flushed every this many bytes, so that progress follows the card, not the page cache. */
const SYNC_EVERY = 64 * 1024 * 1024;

export interface Progress {
  phase: 'write' | 'verify';
  bytesDone: number;
  bytesTotal: number | null;
}

export interface WriteResult {
  bytes: number;
  sha256: string;
  verified: boolean;
  ms: number;
  bytesPerSecond: number;
  /** how the read-back bypassed caches, for the log */
  verifiedBy: 'O_DIRECT' | 'file';
}

export class WriteError extends Error {}

async function openTarget(target: CheckedTarget, force: boolean): Promise<FileHandle> {
  try {
    if (target.kind === 'device') {
      // O_EXCL on a block device: the kernel refuses (EBUSY) if anything mounted or claimed it since the check
      return await open(target.path, constants.O_WRONLY | constants.O_EXCL);
    }
    return await open(target.path, force ? 'w' : 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EBUSY') throw new TargetRefusedError(`${target.path} is in use (mounted or claimed by the kernel since it was checked)`);
    if (code === 'EEXIST') throw new TargetRefusedError(`${target.path} already exists; pass --force to overwrite it`);
    if (code === 'EACCES' || code === 'EPERM')
      throw new TargetRefusedError(
        `no permission to write ${target.path}` + (target.kind === 'device' ? ' (towerd runs as your user: add it to the group that owns the device, e.g. disk)' : ''),
      );
    if (code === 'EROFS') throw new TargetRefusedError(`${target.path} is read-only`);
    throw new WriteError(`cannot open ${target.path}: ${code ?? (err as Error).message}`);
  }
}

/**
 * Stream the image onto the target, hashing the bytes as they go, then read them back and compare. A device is
 * read back with O_DIRECT (through dd, which aligns its buffers), so the comparison sees the card and not the page
 * cache. A file target is written sparse: all-zero blocks become holes.
 */
export async function writeImage(
  image: ImageInfo,
  target: CheckedTarget,
  opts: { force: boolean; signal: AbortSignal; onProgress: (p: Progress) => void },
): Promise<WriteResult> {
  const { signal, onProgress } = opts;
  signal.throwIfAborted();
  const fh = await openTarget(target, opts.force);
  const src = openImageStream(image.path, image.format);
  const onAbort = () => src.stop();
  signal.addEventListener('abort', onAbort, { once: true });
  const hash = createHash('sha256');
  const total = image.imageBytes;
  const started = performance.now();
  let pos = 0;
  let sinceSync = 0;
  const block = Buffer.allocUnsafe(BLOCK);
  let fill = 0;
  const flush = async () => {
    if (fill === 0) return;
    const data = block.subarray(0, fill);
    // holes only in a file we just created or truncated: a device must get every byte
    if (!(target.kind === 'file' && fill === BLOCK && data.equals(ZERO))) {
      let off = 0;
      while (off < fill) off += (await fh.write(data, off, fill - off, pos + off)).bytesWritten;
    }
    pos += fill;
    sinceSync += fill;
    fill = 0;
    if (target.kind === 'device' && sinceSync >= SYNC_EVERY) {
      await fh.datasync();
      sinceSync = 0;
    }
    onProgress({ phase: 'write', bytesDone: pos, bytesTotal: total });
  };
  try {
    onProgress({ phase: 'write', bytesDone: 0, bytesTotal: total });
    for await (const chunk of src.stream as AsyncIterable<Buffer>) {
      signal.throwIfAborted();
      hash.update(chunk);
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(BLOCK - fill, chunk.length - off);
        chunk.copy(block, fill, off, off + n);
        fill += n;
        off += n;
        if (target.kind === 'device' && target.sizeBytes !== null && pos + fill > target.sizeBytes)
          throw new WriteError(`the image is larger than ${target.path} (${humanBytes(target.sizeBytes)})`);
        if (fill === BLOCK) await flush();
      }
    }
    signal.throwIfAborted();
    await flush();
    await src.finished;
    if (total !== null && pos !== total) throw new WriteError(`the image gave ${pos} bytes, its index says ${total}`);
    if (target.kind === 'file') await fh.truncate(pos);
    await fh.sync();
  } catch (err) {
    src.stop();
    throw signal.aborted ? signal.reason : err;
  } finally {
    signal.removeEventListener('abort', onAbort);
    await fh.close();
  }
  const ms = performance.now() - started;
  const sha256 = hash.digest('hex');
  const back = await readBackSha256(target, pos, signal, (done) => onProgress({ phase: 'verify', bytesDone: done, bytesTotal: pos }));
  if (back.sha256 !== sha256)
    throw new WriteError(`verification failed: the ${pos} bytes read back from ${target.path} differ from the image (SHA-256 ${back.sha256.slice(0, 16)}… ≠ ${sha256.slice(0, 16)}…); the card may be faulty or fake`);
  return { bytes: pos, sha256, verified: true, ms: Math.round(ms), bytesPerSecond: Math.round(pos / Math.max(ms / 1000, 0.001)), verifiedBy: back.by };
}

/** SHA-256 of the first `bytes` bytes of the target as stored. */
async function readBackSha256(
  target: CheckedTarget,
  bytes: number,
  signal: AbortSignal,
  onBytes: (done: number) => void,
): Promise<{ sha256: string; by: 'O_DIRECT' | 'file' }> {
  const hash = createHash('sha256');
  let done = 0;
  let lastReport = 0;
  const take = (chunk: Buffer) => {
    const part = chunk.subarray(0, Math.max(0, Math.min(chunk.length, bytes - done)));
    hash.update(part);
    done += part.length;
    if (done - lastReport >= BLOCK || done === bytes) {
      lastReport = done;
      onBytes(done);
    }
  };
  if (bytes === 0) return { sha256: hash.digest('hex'), by: 'file' };
  if (target.kind === 'file') {
    const stream = createReadStream(target.path, { start: 0, end: bytes - 1, highWaterMark: BLOCK, signal });
    for await (const chunk of stream as AsyncIterable<Buffer>) take(chunk);
    return { sha256: hash.digest('hex'), by: 'file' };
  }
  // O_DIRECT reads must be whole logical blocks: read up to the next one, hash only the image's bytes
  const lbs = target.logicalBlockSize;
  const count = Math.ceil(bytes / lbs) * lbs;
  const dd = spawn('dd', [`if=${target.path}`, 'bs=4M', 'iflag=direct,count_bytes', `count=${count}`, 'status=none'], {
    env: toolEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    signal,
  });
  let stderr = '';
  dd.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve, reject) => {
    dd.once('error', reject);
    dd.once('close', resolve);
  });
  for await (const chunk of dd.stdout as AsyncIterable<Buffer>) take(chunk);
  const code = await exited;
  if (code !== 0 || done !== bytes) throw new WriteError(`cannot read ${target.path} back to verify it: ${stderr.trim() || `dd exited with ${code}`}`);
  return { sha256: hash.digest('hex'), by: 'O_DIRECT' };
}
