import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import type { ImageInfo } from '../../../protocol/index.js';
import { SECTOR, TABLE_BYTES, checkFatBootSector, findBootPartition, PartitionError } from './partition.js';
import { ToolError, runToolOk, toolEnv } from './tool.js';
import { TowerError } from '../../core/errors.js';

/** The host image could not be used; nothing was written. */
export class ImageError extends TowerError {
  constructor(message: string) {
    super('ImageInvalid', message);
  }
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
/** A boot partition further in than this is not a host image (TowerOS's starts at 1–8 MiB). */
const MAX_BOOT_OFFSET = 64 * 1024 * 1024;

/** TOWEROS_VERSION as TowerOS derives it: `v` + the version in `toweros-host-X.Y.Z-TIMESTAMP.img[.xz]`. */
export function towerosVersionFromName(path: string): string | null {
  const m = /^toweros-host-(\d+\.\d+\.\d+)-\d+\.img(?:\.xz)?$/.exec(basename(path));
  return m ? `v${m[1]}` : null;
}

export function detectFormat(magic: Buffer): 'raw' | 'xz' | 'gzip' | 'zstd' | 'bzip2' {
  if (magic.subarray(0, 6).equals(XZ_MAGIC)) return 'xz';
  if (magic[0] === 0x1f && magic[1] === 0x8b) return 'gzip';
  if (magic.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (magic.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  return 'raw';
}

/** The uncompressed size recorded in an .xz file's index (`xz --robot --list`), or null. */
async function xzUncompressedSize(path: string): Promise<number | null> {
  const out = (await runToolOk(['xz', '--robot', '--list', '--', path], `reading the index of ${path}`, { timeoutMs: 30_000 })).toString('utf8');
  const line = out.split('\n').find((l) => l.startsWith('file\t'));
  const n = line ? Number(line.split('\t')[4]) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** The first `bytes` bytes of the image as it will be written (decompressed), or fewer if it is shorter. */
async function readHead(path: string, format: 'raw' | 'xz', bytes: number): Promise<Buffer> {
  if (format === 'raw') {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(bytes);
      const { bytesRead } = await fh.read(buf, 0, bytes, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }
  const src = openImageStream(path, format);
  const chunks: Buffer[] = [];
  let have = 0;
  try {
    for await (const chunk of src.stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      have += chunk.length;
      if (have >= bytes) break;
    }
  } finally {
    src.stop();
  }
  if (have < bytes) {
    const err = await src.finished.then(() => undefined, (e: unknown) => e as Error);
    if (err) throw new ImageError(`${path}: ${err.message}`);
  }
  return Buffer.concat(chunks).subarray(0, bytes);
}

/** Everything about an image that can be known before writing it: format, size, where its boot partition is. */
export async function inspectImage(path: string): Promise<ImageInfo> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw new ImageError(`cannot read the image ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!st.isFile()) throw new ImageError(`the image ${path} is not a regular file`);
  let magic: Buffer;
  try {
    magic = await readHead(path, 'raw', 8);
  } catch (err) {
    throw new ImageError(`cannot read the image ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (magic.length < 8) throw new ImageError(`the image ${path} is empty or too short`);
  const kind = detectFormat(magic);
  if (kind !== 'raw' && kind !== 'xz') throw new ImageError(`the image ${path} is ${kind}-compressed; Tower writes raw images and .xz ones (decompress it first)`);
  const format = kind;
  try {
    const imageBytes = format === 'raw' ? st.size : await xzUncompressedSize(path);
    const head = await readHead(path, format, TABLE_BYTES);
    const part = findBootPartition(head);
    if (part.offsetBytes > MAX_BOOT_OFFSET) throw new ImageError(`partition 1 starts ${part.offsetBytes} bytes in; that is not a host image`);
    if (imageBytes !== null && part.offsetBytes + part.sizeBytes > imageBytes)
      throw new ImageError(`partition 1 (${part.offsetBytes}+${part.sizeBytes} bytes) extends past the end of the image (${imageBytes} bytes)`);
    const boot = (await readHead(path, format, part.offsetBytes + SECTOR)).subarray(part.offsetBytes);
    checkFatBootSector(boot);
    return { path, format, fileBytes: st.size, imageBytes, bootPartition: part, towerosVersion: towerosVersionFromName(path) };
  } catch (err) {
    if (err instanceof PartitionError || err instanceof ToolError) throw new ImageError(`${path}: ${err.message}`);
    throw err;
  }
}

export interface ImageStream {
  /** the bytes to write: the file itself, or xz's output */
  stream: Readable;
  /** resolves when the source ended cleanly (xz exited 0); rejects with xz's complaint otherwise */
  finished: Promise<void>;
  /** stop reading (and stop xz) */
  stop(): void;
}

/** The image's bytes as they go onto the target; an .xz file is decompressed on the fly by `xz -dc` (no temporary file). */
export function openImageStream(path: string, format: 'raw' | 'xz'): ImageStream {
  if (format === 'raw') {
    const stream = createReadStream(path, { highWaterMark: 4 * 1024 * 1024 });
    const finished = new Promise<void>((resolve, reject) => {
      stream.once('end', resolve);
      stream.once('error', reject);
    });
    finished.catch(() => undefined);
    return { stream, finished, stop: () => stream.destroy() };
  }
  const child: ChildProcess = spawn('xz', ['-dc', '--', path], { env: toolEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stopped = false;
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  const finished = new Promise<void>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(new ToolError(err.code === 'ENOENT' ? 'xz is not installed (package xz-utils)' : `cannot run xz: ${err.message}`)),
    );
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else if (stopped) resolve();
      else reject(new ToolError(`xz could not decompress ${path} (${stderr.trim().split('\n').pop() || (signal ?? `exit ${code}`)})`));
    });
  });
  finished.catch(() => undefined);
  return {
    stream: child.stdout!,
    finished,
    stop: () => {
      stopped = true;
      child.stdout!.destroy();
      child.kill('SIGKILL');
    },
  };
}
