import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TargetRefusedError, checkTarget, devNumOf, humanBytes, parseMountInfo } from '../../daemon/features/provision/target.js';

describe('provisioning targets', () => {
  it('parses /proc/self/mountinfo, escapes and optional fields included', () => {
    const text = [
      '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      '122 27 259:0 / /media/my\\040card rw,relatime shared:7 master:2 - vfat /dev/sdb1 rw',
      '30 22 0:26 / /run rw - tmpfs tmpfs rw',
      'garbage',
    ].join('\n');
    expect(parseMountInfo(text)).toEqual([
      { devNum: '254:0', mountPoint: '/', source: '/dev/vda' },
      { devNum: '259:0', mountPoint: '/media/my card', source: '/dev/sdb1' },
      { devNum: '0:26', mountPoint: '/run', source: 'tmpfs' },
    ]);
  });

  it('decodes st_rdev like glibc’s major()/minor()', () => {
    expect(devNumOf(7 << 8)).toBe('7:0'); // loop0
    expect(devNumOf((8 << 8) | 17)).toBe('8:17'); // sdb1
    expect(devNumOf(259 << 8)).toBe('259:0'); // nvme/loop partitions
    // a minor above 255: (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)
    expect(devNumOf((179 << 8) | (0x34 & 0xff) | ((0x134 & ~0xff) << 12))).toBe('179:308');
  });

  it('file targets: a new file is fine, an existing one needs force, never the image itself or a device node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'target-'));
    const img = join(dir, 'host.img');
    writeFileSync(img, 'x');
    const fresh = await checkTarget({ kind: 'file', path: join(dir, 'out.img') }, { force: false, imagePath: img, imageBytes: 1 });
    expect(fresh).toMatchObject({ kind: 'file', exists: false, description: 'new file', name: 'out.img' });
    writeFileSync(join(dir, 'old.img'), 'old');
    await expect(checkTarget({ kind: 'file', path: join(dir, 'old.img') }, { force: false, imagePath: img, imageBytes: 1 })).rejects.toThrow(/already exists; pass --force/);
    expect((await checkTarget({ kind: 'file', path: join(dir, 'old.img') }, { force: true, imagePath: img, imageBytes: 1 })).exists).toBe(true);
    await expect(checkTarget({ kind: 'file', path: img }, { force: true, imagePath: img, imageBytes: 1 })).rejects.toThrow(/is the image itself/);
    await expect(checkTarget({ kind: 'file', path: '/dev/null' }, { force: true, imagePath: img, imageBytes: 1 })).rejects.toThrow(/not a regular file/);
    await expect(checkTarget({ kind: 'file', path: join(dir, 'nope', 'out.img') }, { force: false, imagePath: img, imageBytes: 1 })).rejects.toThrow(/does not exist/);
  });

  it('device targets must be block devices', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'target-'));
    writeFileSync(join(dir, 'plain'), 'x');
    const opts = { force: true, imagePath: '/nonexistent', imageBytes: null };
    await expect(checkTarget({ kind: 'device', path: '/dev/null' }, opts)).rejects.toThrowError(TargetRefusedError);
    await expect(checkTarget({ kind: 'device', path: '/dev/null' }, opts)).rejects.toThrow(/\/dev\/null is not a block device/);
    await expect(checkTarget({ kind: 'device', path: join(dir, 'plain') }, opts)).rejects.toThrow(/not a block device \(to write an image file, use --to-file\)/);
    await expect(checkTarget({ kind: 'device', path: '/dev/nonexistent-sdz' }, opts)).rejects.toThrow(/no such device/);
  });

  it('prints sizes in binary units', () => {
    expect(humanBytes(512)).toBe('512 B');
    expect(humanBytes(31_914_983_424)).toBe('29.7 GiB');
  });
});
