import { readFile, open } from 'node:fs/promises';
import { basename } from 'node:path';
import { runToolOk, toolEnv } from './tool.js';

/**
 * Files on a FAT partition inside an image file or on a device, without mounting it (so no root): mtools with
 * `-i PATH@@OFFSET`. mtools' own sanity checks on disk geometry do not apply to partitions inside images
 * (MTOOLS_SKIP_CHECK), and the user's ~/.mtoolsrc is not read (MTOOLSRC=/dev/null), so its drive letters and
 * options cannot change what is written.
 */
function mtoolsEnv(): NodeJS.ProcessEnv {
  return toolEnv({ MTOOLS_SKIP_CHECK: '1', MTOOLSRC: '/dev/null' });
}

function drive(path: string, offsetBytes: number): string {
  if (path.includes('@@')) throw new Error(`${path}: mtools cannot open a path containing "@@"`);
  return `${path}@@${offsetBytes}`;
}

/** Copy local files to the root of the FAT file system (replacing files of the same name). */
export async function copyToFat(path: string, offsetBytes: number, files: string[]): Promise<void> {
  await runToolOk(['mcopy', '-o', '-i', drive(path, offsetBytes), '--', ...files, '::/'], `copying ${files.map((f) => basename(f)).join(', ')} to the boot partition`, {
    env: mtoolsEnv(),
    timeoutMs: 60_000,
  });
}

/** One file's bytes from the root of the FAT file system. */
export async function readFromFat(path: string, offsetBytes: number, name: string): Promise<Buffer> {
  return runToolOk(['mcopy', '-n', '-i', drive(path, offsetBytes), `::/${name}`, '-'], `reading ${name} back from the boot partition`, {
    env: mtoolsEnv(),
    timeoutMs: 60_000,
  });
}

/** The names in the root folder of the FAT file system (long names where there are any). */
export async function listFat(path: string, offsetBytes: number): Promise<string[]> {
  const out = (await runToolOk(['mdir', '-b', '-i', drive(path, offsetBytes), '::/'], 'listing the boot partition', { env: mtoolsEnv(), timeoutMs: 60_000 })).toString('utf8');
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => l.replace(/^::\//, ''));
}

/**
 * Put the files on the boot partition, then read each one back and compare. On a device mtools writes through the
 * page cache: the device is flushed before this returns, so pulling the card right after is safe.
 */
export async function injectFiles(path: string, offsetBytes: number, files: string[], isDevice: boolean): Promise<void> {
  await copyToFat(path, offsetBytes, files);
  if (isDevice) {
    const fh = await open(path, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  for (const f of files) {
    const want = await readFile(f);
    const got = await readFromFat(path, offsetBytes, basename(f));
    if (!got.equals(want)) throw new Error(`${basename(f)} reads back differently from the boot partition`);
  }
}
