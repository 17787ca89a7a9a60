// Test host images: a real partition table (sfdisk) with a real FAT boot partition (mkfs.vfat), filled with mtools,
// as a TowerOS host image is laid out (one FAT32 partition labelled bootfs on an msdos label).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

export const MTOOLS_ENV = { ...process.env, MTOOLS_SKIP_CHECK: '1', MTOOLSRC: '/dev/null' };

/**
 * Run a tool to completion. stdin is only a pipe when there is input (a tool that exits without reading it would
 * otherwise fail the write with EPIPE).
 */
export function cmd(argv: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0]!, argv.slice(1), { env: opts.env ?? process.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) {
      p.stdin!.on('error', () => undefined);
      p.stdin!.end(opts.input);
    }
  });
}

async function ok(tool: string, args: string[], input?: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await cmd([tool, ...args], { input, env });
  if (r.code !== 0) throw new Error(`${tool} ${args.join(' ')} exited with ${r.code}: ${r.stderr}`);
  return r.stdout;
}

export interface HostImage {
  path: string;
  offsetBytes: number;
  bytes: number;
}

/**
 * A host image of `sizeMiB` with partition 1 (FAT32, label BOOTFS) from `startSector` to the end, holding a few files
 * like a real one and `randomMiB` of random data, so that the written bytes are not mostly zeros.
 */
export async function makeHostImage(
  dir: string,
  opts: { name?: string; table?: 'dos' | 'gpt'; sizeMiB?: number; startSector?: number; randomMiB?: number; xz?: boolean } = {},
): Promise<HostImage> {
  const sizeMiB = opts.sizeMiB ?? 48;
  const start = opts.startSector ?? 2048;
  const path = join(dir, opts.name ?? 'toweros-host-0.7.0-20240105123456.img');
  await truncate(path, 0).catch(() => undefined);
  writeFileSync(path, '');
  await truncate(path, sizeMiB * 1024 * 1024);
  const table = opts.table ?? 'dos';
  // gpt keeps its backup header in the last 33 sectors
  const endSectors = table === 'gpt' ? 34 : 0;
  const sectors = (sizeMiB * 1024 * 1024) / 512 - start - endSectors;
  const script = table === 'dos' ? `label: dos\nstart=${start}, size=${sectors}, type=c, bootable\n` : `label: gpt\nstart=${start}, size=${sectors}, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n`;
  await ok('sfdisk', ['--quiet', path], script);
  await ok('mkfs.vfat', ['-F', '32', '-n', 'BOOTFS', '--offset', String(start), path, String(Math.floor((sectors * 512) / 1024))]);
  const files = join(dir, 'bootfs-files');
  await ok('mkdir', ['-p', files]);
  writeFileSync(join(files, 'cmdline.txt'), 'modules=loop,squashfs,sd-mod,usb-storage quiet console=tty1\n');
  writeFileSync(join(files, 'usercfg.txt'), 'dtoverlay=dwc2,dr_mode=host\n');
  writeFileSync(join(files, 'payload.bin'), randomBytes((opts.randomMiB ?? 4) * 1024 * 1024));
  const drive = `${path}@@${start * 512}`;
  await ok('mcopy', ['-i', drive, join(files, 'cmdline.txt'), join(files, 'usercfg.txt'), join(files, 'payload.bin'), '::/'], undefined, MTOOLS_ENV);
  if (!opts.xz) return { path, offsetBytes: start * 512, bytes: sizeMiB * 1024 * 1024 };
  await ok('xz', ['-T0', '-1', '-f', path]);
  return { path: `${path}.xz`, offsetBytes: start * 512, bytes: sizeMiB * 1024 * 1024 };
}

/** A file from the root of the FAT partition of an image or device, read with mtools. */
export async function mread(path: string, offsetBytes: number, name: string): Promise<Buffer> {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync('mcopy', ['-n', '-i', `${path}@@${offsetBytes}`, `::/${name}`, '-'], { env: MTOOLS_ENV, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`mcopy ::/${name} from ${path}: ${r.stderr.toString()}`);
  return r.stdout;
}

export async function mlist(path: string, offsetBytes: number): Promise<string[]> {
  const out = await ok('mdir', ['-b', '-i', `${path}@@${offsetBytes}`, '::/'], undefined, MTOOLS_ENV);
  return out
    .split('\n')
    .map((l) => l.trim().replace(/^::\//, ''))
    .filter(Boolean)
    .sort();
}
