import { describe, expect, it } from 'vitest';
import { PartitionError, TABLE_BYTES, checkFatBootSector, findBootPartition } from '../../daemon/features/provision/partition.js';
import { detectFormat, towerosVersionFromName } from '../../daemon/features/provision/image.js';

function mbr(entries: { type: number; start: number; sectors: number }[]): Buffer {
  const b = Buffer.alloc(TABLE_BYTES);
  entries.forEach((e, i) => {
    const o = 446 + 16 * i;
    b[o + 4] = e.type;
    b.writeUInt32LE(e.start, o + 8);
    b.writeUInt32LE(e.sectors, o + 12);
  });
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

function gpt(first: bigint, last: bigint, entriesLba = 2n): Buffer {
  const b = mbr([{ type: 0xee, start: 1, sectors: 0xffffffff }]);
  b.write('EFI PART', 512, 'latin1');
  b.writeBigUInt64LE(entriesLba, 512 + 72);
  b.writeUInt32LE(128, 512 + 80);
  b.writeUInt32LE(128, 512 + 84);
  const e = Number(entriesLba) * 512;
  if (e + 128 > b.length) return b; // entries beyond what was read
  Buffer.from('a2a0d0ebe5b9334487c068b6b72699c7', 'hex').copy(b, e); // Microsoft basic data
  b.writeBigUInt64LE(first, e + 32);
  b.writeBigUInt64LE(last, e + 40);
  return b;
}

function fat32BootSector(label = 'BOOTFS'): Buffer {
  const s = Buffer.alloc(512);
  s[0] = 0xeb;
  s.writeUInt16LE(512, 11);
  s[13] = 8;
  s.writeUInt16LE(32, 14);
  s[16] = 2;
  s.writeUInt16LE(0, 22); // FAT32: the 16-bit FAT size is 0
  s.write(label.padEnd(11), 71, 'latin1');
  s.write('FAT32   ', 82, 'latin1');
  s[510] = 0x55;
  s[511] = 0xaa;
  return s;
}

describe('boot partition of a host image', () => {
  it('reads partition 1 of an MBR (TowerOS: one FAT32 partition on an msdos label)', () => {
    expect(findBootPartition(mbr([{ type: 0x0c, start: 2048, sectors: 1048576 }]))).toEqual({ table: 'dos', offsetBytes: 1048576, sizeBytes: 536870912 });
    // only the first 512 bytes are needed for an MBR
    expect(findBootPartition(mbr([{ type: 0x0b, start: 8192, sectors: 100 }]).subarray(0, 512)).offsetBytes).toBe(8192 * 512);
  });

  it('reads GPT entry 1 behind a protective MBR', () => {
    expect(findBootPartition(gpt(2048n, 2048n + 99999n))).toEqual({ table: 'gpt', offsetBytes: 2048 * 512, sizeBytes: 100000 * 512 });
  });

  it.each([
    ['no signature', Buffer.alloc(512), /no partition table/],
    ['empty partition 1', mbr([{ type: 0, start: 0, sectors: 0 }, { type: 0x0c, start: 2048, sectors: 10 }]), /partition 1 of the image’s MBR is empty/],
    ['too short', Buffer.alloc(100), /shorter than one sector/],
    ['protective MBR without GPT', mbr([{ type: 0xee, start: 1, sectors: 100 }]), /no GPT header/],
    ['GPT entries out of reach', gpt(2048n, 4096n, 40n), /beyond the first/],
    ['empty GPT entry', (() => { const b = gpt(2048n, 4096n); b.fill(0, 1024, 1024 + 16); return b; })(), /GPT partition 1 of the image is empty/],
  ])('refuses %s', (_what, buf, why) => {
    expect(() => findBootPartition(buf)).toThrowError(PartitionError);
    expect(() => findBootPartition(buf)).toThrowError(why);
  });

  it('recognises a FAT32 boot sector and refuses other file systems', () => {
    expect(checkFatBootSector(fat32BootSector())).toEqual({ type: 'FAT32', label: 'BOOTFS', bytesPerSector: 512 });
    const fat16 = fat32BootSector();
    fat16.writeUInt16LE(200, 22);
    fat16.write('FAT16   ', 54, 'latin1');
    fat16.write('NO NAME    ', 43, 'latin1');
    expect(checkFatBootSector(fat16).type).toBe('FAT16');
    const ext4ish = Buffer.alloc(512);
    expect(() => checkFatBootSector(ext4ish)).toThrow(/no FAT file system \(no boot sector signature\)/);
    const noJump = fat32BootSector();
    noJump[0] = 0;
    expect(() => checkFatBootSector(noJump)).toThrow(/no jump instruction/);
    const badBpb = fat32BootSector();
    badBpb.writeUInt16LE(1000, 11);
    expect(() => checkFatBootSector(badBpb)).toThrow(/BIOS parameter block/);
  });

  it('knows image formats by their magic bytes and TowerOS versions by file name', () => {
    expect(detectFormat(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]))).toBe('xz');
    expect(detectFormat(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]))).toBe('gzip');
    expect(detectFormat(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]))).toBe('zstd');
    expect(detectFormat(mbr([]))).toBe('raw');
    expect(towerosVersionFromName('/x/toweros-host-0.7.0-20240105123456.img.xz')).toBe('v0.7.0');
    expect(towerosVersionFromName('toweros-host-1.12.3-1.img')).toBe('v1.12.3');
    expect(towerosVersionFromName('host.img')).toBeNull();
  });
});
