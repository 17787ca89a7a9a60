/**
 * Finding a host image's boot partition without mounting anything: partition 1 from the MBR (TowerOS images are a
 * single FAT32 partition on an msdos label) or from a GPT, then a check that a FAT file system starts there. The
 * offset is what mtools needs (`-i image@@OFFSET`). Pure functions over the image's first bytes.
 */

export const SECTOR = 512;
/** Enough of an image for the MBR, the GPT header and 128 GPT entries (LBA 0–33). */
export const TABLE_BYTES = 34 * SECTOR;

export interface BootPartition {
  table: 'dos' | 'gpt';
  offsetBytes: number;
  sizeBytes: number;
}

export class PartitionError extends Error {}

function hasBootSignature(sector: Buffer): boolean {
  return sector.length >= SECTOR && sector[510] === 0x55 && sector[511] === 0xaa;
}

/** Partition 1 of an MBR or GPT partition table in `head` (the image's first bytes, at least TABLE_BYTES for GPT). */
export function findBootPartition(head: Buffer): BootPartition {
  if (head.length < SECTOR) throw new PartitionError('the image is shorter than one sector');
  if (!hasBootSignature(head)) throw new PartitionError('the image has no partition table (no MBR signature 55 AA in its first sector)');
  const entry = (i: number) => {
    const o = 446 + 16 * i;
    return { type: head[o + 4]!, start: head.readUInt32LE(o + 8), sectors: head.readUInt32LE(o + 12) };
  };
  const first = entry(0);
  if (first.type === 0xee) return gptPartition1(head);
  if (first.type === 0 || first.sectors === 0) {
    // a FAT file system right at sector 0 (a "superfloppy") also ends in 55 AA; TowerOS images never are one
    throw new PartitionError('partition 1 of the image’s MBR is empty');
  }
  if (first.start === 0) throw new PartitionError('partition 1 of the image’s MBR starts at sector 0');
  return { table: 'dos', offsetBytes: first.start * SECTOR, sizeBytes: first.sectors * SECTOR };
}

function gptPartition1(head: Buffer): BootPartition {
  if (head.length < 2 * SECTOR) throw new PartitionError('the image is too short for its GPT header');
  const hdr = head.subarray(SECTOR, 2 * SECTOR);
  if (hdr.toString('latin1', 0, 8) !== 'EFI PART') throw new PartitionError('the image has a protective MBR but no GPT header ("EFI PART") at LBA 1');
  const entriesLba = Number(hdr.readBigUInt64LE(72));
  const count = hdr.readUInt32LE(80);
  const size = hdr.readUInt32LE(84);
  if (size < 128 || count < 1) throw new PartitionError(`the GPT header is malformed (entry size ${size}, ${count} entries)`);
  const o = entriesLba * SECTOR;
  if (o + size > head.length) throw new PartitionError(`the GPT entries (LBA ${entriesLba}) lie beyond the first ${head.length} bytes read`);
  const e = head.subarray(o, o + size);
  if (e.subarray(0, 16).every((b) => b === 0)) throw new PartitionError('GPT partition 1 of the image is empty');
  const firstLba = Number(e.readBigUInt64LE(32));
  const lastLba = Number(e.readBigUInt64LE(40));
  if (firstLba === 0 || lastLba < firstLba) throw new PartitionError(`GPT partition 1 has a bad extent (LBA ${firstLba}–${lastLba})`);
  return { table: 'gpt', offsetBytes: firstLba * SECTOR, sizeBytes: (lastLba - firstLba + 1) * SECTOR };
}

export interface FatInfo {
  type: 'FAT12' | 'FAT16' | 'FAT32';
  label: string;
  bytesPerSector: number;
}

/** Is this the boot sector of a FAT file system? Returns what it is, or throws why not. */
export function checkFatBootSector(sector: Buffer): FatInfo {
  if (sector.length < SECTOR) throw new PartitionError('the boot partition is shorter than one sector');
  if (!hasBootSignature(sector)) throw new PartitionError('partition 1 holds no FAT file system (no boot sector signature)');
  if (sector[0] !== 0xeb && sector[0] !== 0xe9) throw new PartitionError('partition 1 holds no FAT file system (no jump instruction in its boot sector)');
  const bytesPerSector = sector.readUInt16LE(11);
  const perCluster = sector[13]!;
  const reserved = sector.readUInt16LE(14);
  const fats = sector[16]!;
  if (![512, 1024, 2048, 4096].includes(bytesPerSector) || perCluster === 0 || (perCluster & (perCluster - 1)) !== 0 || reserved === 0 || fats === 0)
    throw new PartitionError('partition 1 holds no FAT file system (its BIOS parameter block is not FAT’s)');
  const fat16Size = sector.readUInt16LE(22);
  if (fat16Size === 0) {
    return { type: 'FAT32', label: sector.toString('latin1', 71, 82).trim(), bytesPerSector };
  }
  const fsType = sector.toString('latin1', 54, 62).trim();
  return { type: fsType === 'FAT12' ? 'FAT12' : 'FAT16', label: sector.toString('latin1', 43, 54).trim(), bytesPerSector };
}
