import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIND_BOOT_DEVICE, parseBootDevice } from '../../daemon/features/provision/onhost.js';

const dir = mkdtempSync(join(tmpdir(), 'tower-onhost-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** The host-side script under this machine's /bin/sh (busybox ash on hosts; a POSIX sh either way). */
const find = (...args: string[]) => spawnSync('/bin/sh', ['-c', FIND_BOOT_DEVICE, 'sh', ...args], { encoding: 'utf8' }).stdout;

describe('finding the boot device on a host (--on-host)', () => {
  it('a named file or device is described; a missing one, none mounted, or the root disk are refused', () => {
    const f = join(dir, 'boot.img');
    writeFileSync(f, Buffer.alloc(4096));
    expect(parseBootDevice('h', find(f))).toEqual({ kind: 'file', bytes: 4096, path: f });
    expect(() => parseBootDevice('h', find(join(dir, 'nope')))).toThrow(/nope on h is neither a block device nor a file/);
    expect(() => parseBootDevice('h', find('', '/no/such/mount'))).toThrow(/none of reprovision\.bootMounts is mounted there; name it with --boot-device/);
    const root = spawnSync('/bin/sh', ['-c', `awk '$2 == "/" { print $1; exit }' /proc/mounts`], { encoding: 'utf8' }).stdout.trim();
    if (root.startsWith('/dev/')) expect(() => parseBootDevice('h', find(root))).toThrow(/holds h's root file system/);
  });

  it('what a host says is parsed strictly', () => {
    expect(parseBootDevice('h', 'ok block 31914983424 /dev/mmcblk0\n')).toEqual({ kind: 'block', bytes: 31914983424, path: '/dev/mmcblk0' });
    for (const bad of ['ok block x /dev/sda', 'ok disk 1 /dev/sda', 'ok block 1 dev/sda', 'ok block 1 /dev/sd a', '', 'rm -rf /'])
      expect(() => parseBootDevice('h', bad)).toThrow(/cannot tell h's boot device|neither/);
  });
});
