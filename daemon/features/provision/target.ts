import { readFile, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Stats } from 'node:fs';
import type { ProvisionTarget, TargetInfo } from '../../../protocol/index.js';
import { bytesText } from '../../shared/bytes.js';
import { TowerError } from '../../core/errors.js';

/**
 * Where a host image may be written. A device must be a whole block device that nothing uses: not mounted (any of its
 * partitions), not holding swap, not under device-mapper/md (LUKS, LVM, RAID), not the disk the system runs from, not
 * write-protected; and removable (or on USB or an SD/MMC slot) unless forced. Facts come from sysfs and
 * /proc/self/mountinfo, which an unprivileged user can read.
 */
export class TargetRefusedError extends TowerError {
  constructor(message: string) {
    super('TargetRefused', message);
  }
}

const SYS = '/sys';

export interface MountEntry {
  devNum: string;
  mountPoint: string;
  source: string;
}

/** /proc/self/mountinfo, one entry per mount (octal escapes such as \040 decoded). */
export function parseMountInfo(text: string): MountEntry[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (f.length < 10 || dash < 6) continue;
    out.push({ devNum: f[2]!, mountPoint: unescape(f[4]!), source: unescape(f[dash + 2] ?? '') });
  }
  return out;
}

/** Linux's encoding of dev_t in st_rdev as "major:minor". */
export function devNumOf(rdev: number): string {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev >>> 0;
  const major = ((lo >>> 8) & 0xfff) | ((hi & 0xfffff000) >>> 0);
  const minor = (lo & 0xff) | ((lo >>> 12) & 0xfff00) | (((hi & 0xfff) << 20) >>> 0);
  return `${major >>> 0}:${minor >>> 0}`;
}

async function readSys(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch {
    return [];
  }
}

/** A block device node as sysfs describes it: `/sys/dev/block/M:m` resolves to its folder. */
interface SysBlock {
  name: string;
  devNum: string;
  sysPath: string;
  isPartition: boolean;
}

async function sysBlock(devNum: string): Promise<SysBlock | undefined> {
  let sysPath: string;
  try {
    sysPath = await realpath(join(SYS, 'dev', 'block', devNum));
  } catch {
    return undefined;
  }
  const isPartition = (await readSys(join(sysPath, 'partition'))) !== undefined;
  return { name: basename(sysPath), devNum, sysPath, isPartition };
}

/** The whole disks under a block device: a partition's disk; a dm or md device's underlying disks (through slaves). */
async function disksUnder(b: SysBlock, depth = 0): Promise<string[]> {
  if (depth > 8) return [];
  if (b.isPartition) return [basename(dirname(b.sysPath))];
  const slaves = await listDir(join(b.sysPath, 'slaves'));
  if (slaves.length === 0) return [b.name];
  const out: string[] = [];
  for (const s of slaves) {
    const dev = await readSys(join(b.sysPath, 'slaves', s, 'dev'));
    const sb = dev ? await sysBlock(dev) : undefined;
    if (sb) out.push(...(await disksUnder(sb, depth + 1)));
  }
  return out;
}

/** The device numbers a mount's source names: the major:minor field, or (btrfs and friends) the /dev node it names. */
async function mountDevNums(m: MountEntry): Promise<string[]> {
  const nums = [m.devNum];
  if (m.source.startsWith('/dev/')) {
    try {
      const st = await stat(m.source);
      if (st.isBlockDevice()) nums.push(devNumOf(st.rdev));
    } catch {
      // a source that no longer exists names nothing
    }
  }
  return nums;
}

const SYSTEM_MOUNTS = new Set(['/', '/boot', '/boot/efi', '/boot/firmware', '/usr', '/var', '/home']);

interface DeviceFacts {
  name: string;
  devNum: string;
  sizeBytes: number;
  logicalBlockSize: number;
  removable: boolean;
  attachment: 'removable' | 'usb' | 'mmc' | 'fixed';
  readOnly: boolean;
  vendor: string;
  model: string;
  serial: string;
  /** the disk and its partitions, as major:minor */
  nodes: Map<string, string>;
  holders: string[];
}

async function deviceFacts(b: SysBlock): Promise<DeviceFacts> {
  const nodes = new Map<string, string>([[b.devNum, b.name]]);
  const holders = (await listDir(join(b.sysPath, 'holders'))).map((h) => `${b.name} → ${h}`);
  for (const entry of await listDir(b.sysPath)) {
    const dev = await readSys(join(b.sysPath, entry, 'partition')).then((p) => (p === undefined ? undefined : readSys(join(b.sysPath, entry, 'dev'))));
    if (!dev) continue;
    nodes.set(dev, entry);
    for (const h of await listDir(join(b.sysPath, entry, 'holders'))) holders.push(`${entry} → ${h}`);
  }
  const removable = (await readSys(join(b.sysPath, 'removable'))) === '1';
  // the device's place on its bus: /sys/devices/…/usb1/1-2/… for a USB card reader
  const devicePath = await realpath(join(b.sysPath, 'device')).catch(() => readlink(join(b.sysPath, 'device')).catch(() => ''));
  const attachment = removable ? 'removable' : /\/usb\d*\//.test(devicePath) ? 'usb' : /^mmcblk\d+$/.test(b.name) ? 'mmc' : 'fixed';
  const sectors = Number((await readSys(join(b.sysPath, 'size'))) ?? '0');
  return {
    name: b.name,
    devNum: b.devNum,
    sizeBytes: sectors * 512,
    logicalBlockSize: Number((await readSys(join(b.sysPath, 'queue', 'logical_block_size'))) ?? '512') || 512,
    removable: attachment !== 'fixed',
    attachment,
    readOnly: (await readSys(join(b.sysPath, 'ro'))) === '1',
    vendor: (await readSys(join(b.sysPath, 'device', 'vendor'))) ?? '',
    model: (await readSys(join(b.sysPath, 'device', 'model'))) ?? (await readSys(join(b.sysPath, 'device', 'name'))) ?? '',
    serial: (await readSys(join(b.sysPath, 'device', 'serial'))) ?? (await readSys(join(b.sysPath, 'serial'))) ?? '',
    nodes,
    holders,
  };
}

export const humanBytes = bytesText;

export interface CheckedTarget extends TargetInfo {
  /** for devices: the logical block size (reads with O_DIRECT must be multiples of it) */
  logicalBlockSize: number;
}

/**
 * Decide whether `target` may be written, and describe it. Throws TargetRefusedError with the reason. `force` accepts
 * a non-removable device or an existing file, never a mounted or system disk.
 */
export async function checkTarget(target: ProvisionTarget, opts: { force: boolean; imagePath: string; imageBytes: number | null }): Promise<CheckedTarget> {
  return target.kind === 'file' ? checkFile(resolve(target.path), opts) : checkDevice(resolve(target.path), opts);
}

async function sameFile(a: Stats, path: string): Promise<boolean> {
  try {
    const b = await stat(path);
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}

async function checkFile(path: string, opts: { force: boolean; imagePath: string }): Promise<CheckedTarget> {
  let st: Stats | undefined;
  try {
    st = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new TargetRefusedError(`cannot use ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const base = { kind: 'file' as const, path, name: basename(path), removable: false, logicalBlockSize: 512 };
  if (!st) {
    let dir;
    try {
      dir = await stat(dirname(path));
    } catch {
      throw new TargetRefusedError(`the folder ${dirname(path)} does not exist`);
    }
    if (!dir.isDirectory()) throw new TargetRefusedError(`${dirname(path)} is not a folder`);
    return { ...base, description: 'new file', sizeBytes: null, exists: false, fingerprint: `file:new:${path}` };
  }
  if (st.isBlockDevice()) throw new TargetRefusedError(`${path} is a block device: use --device, which checks that it is safe to wipe`);
  if (!st.isFile()) throw new TargetRefusedError(`${path} exists and is not a regular file`);
  if (await sameFile(st, opts.imagePath)) throw new TargetRefusedError(`${path} is the image itself`);
  if (!opts.force) throw new TargetRefusedError(`${path} already exists; pass --force to overwrite it`);
  return {
    ...base,
    description: `existing file (${humanBytes(st.size)})`,
    sizeBytes: st.size,
    exists: true,
    fingerprint: `file:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`,
  };
}

async function checkDevice(path: string, opts: { force: boolean; imageBytes: number | null }): Promise<CheckedTarget> {
  let st: Stats;
  let real: string;
  try {
    real = await realpath(path);
    st = await stat(real);
  } catch (err) {
    throw new TargetRefusedError(`cannot use ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such device' : (err as NodeJS.ErrnoException).code}`);
  }
  if (!st.isBlockDevice()) throw new TargetRefusedError(`${path} is not a block device${st.isFile() ? ' (to write an image file, use --to-file)' : ''}`);
  const b = await sysBlock(devNumOf(st.rdev));
  if (!b) throw new TargetRefusedError(`${path} (${devNumOf(st.rdev)}) is not known to the kernel (no /sys/dev/block entry)`);
  if (b.isPartition) throw new TargetRefusedError(`${path} is a partition of /dev/${basename(dirname(b.sysPath))}; give the whole device`);
  const dev = await deviceFacts(b);

  const mounts = parseMountInfo((await readSys('/proc/self/mountinfo')) ?? '');
  for (const m of mounts) {
    if (!SYSTEM_MOUNTS.has(m.mountPoint)) continue;
    for (const num of await mountDevNums(m)) {
      const sb = await sysBlock(num);
      if (sb && (await disksUnder(sb)).includes(dev.name))
        throw new TargetRefusedError(`${path} is the system disk (it holds ${m.mountPoint}); Tower never writes to it`);
    }
  }
  const mounted: string[] = [];
  for (const m of mounts) {
    for (const num of await mountDevNums(m)) {
      const node = dev.nodes.get(num);
      if (node) mounted.push(`/dev/${node} on ${m.mountPoint}`);
    }
  }
  if (mounted.length) throw new TargetRefusedError(`${path} is mounted (${[...new Set(mounted)].join(', ')}); unmount it first`);
  const swaps = (await readSys('/proc/swaps')) ?? '';
  for (const line of swaps.split('\n').slice(1)) {
    const src = line.split(/\s+/)[0];
    if (src && [...dev.nodes.values()].some((n) => src === `/dev/${n}`)) throw new TargetRefusedError(`${path} holds active swap (${src}); swapoff it first`);
  }
  if (dev.holders.length) throw new TargetRefusedError(`${path} is in use by device-mapper or RAID (${dev.holders.join(', ')}); close it first`);
  if (dev.readOnly) throw new TargetRefusedError(`${path} is read-only (is the SD card’s lock switch on?)`);
  if (dev.sizeBytes === 0) throw new TargetRefusedError(`${path} has no medium (size 0): insert the card`);
  if (opts.imageBytes !== null && opts.imageBytes > dev.sizeBytes)
    throw new TargetRefusedError(`${path} is too small: ${humanBytes(dev.sizeBytes)} for an image of ${humanBytes(opts.imageBytes)}`);
  if (!dev.removable && !opts.force)
    throw new TargetRefusedError(`${path} is not a removable device (not removable, not on USB or an SD slot); pass --force if you are sure`);
  const label = [dev.vendor, dev.model].filter(Boolean).join(' ') || 'block device';
  return {
    kind: 'device',
    path: real,
    name: dev.name,
    description: `${label}, ${humanBytes(dev.sizeBytes)}, ${dev.attachment}`,
    sizeBytes: dev.sizeBytes,
    removable: dev.removable,
    exists: true,
    fingerprint: `dev:${dev.devNum}:${dev.name}:${dev.sizeBytes}:${dev.vendor}:${dev.model}:${dev.serial}`,
    logicalBlockSize: dev.logicalBlockSize,
  };
}
