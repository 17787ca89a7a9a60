// A host without the command apk runs under (packages.privilege, sudo by default): towerctl install and the
// update check say so, naming the host and the setting, instead of passing on the host shell's
// "sudo: command not found".
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateResult } from '../../protocol/index.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { towerctl } from '../helpers/towerd.js';

const root = process.getuid?.() === 0;
let t: LabDaemon;
let priv: string;

describe.skipIf(!root)('the privilege command is missing on the host', () => {
  beforeAll(async () => {
    t = await labDaemon('v', { online: 1 }, { desktop: { sound: 'off' } });
    // when the login user's PATH has a sudo (this machine's, or doas linked as sudo on the Alpine-like profile), a
    // name that exists nowhere stands in for it
    priv = (await t.lab.execHost('on1', ['sh', '-c', 'command -v sudo'], { user: 'tower' })).code === 0 ? 'tower-no-such-sudo' : 'sudo';
    writeFileSync(join(t.lab.home, '.config', 'tower', 'towerd.json'), JSON.stringify({ desktop: { sound: 'off' }, packages: { privilege: [priv], updates: { enabled: false } } }));
    const r = await towerctl(t.d, ['daemon', 'reload']);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('towerctl install fails with a message that names the host, the command and packages.privilege', async () => {
    const r = await towerctl(t.d, ['install', 'on1', 'hello']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `towerctl: on1 has no ${priv}, the command apk runs under to be root there (packages.privilege in towerd.json is ["${priv}"]). ` +
        'Set packages.privilege to the one the host has: TowerOS hosts have doas ("packages": {"privilege": ["doas"]}); ' +
        `[] runs apk as the login user itself. Or install ${priv} on on1.\n`,
    );
  });

  it('the update check reports the same, not the shell’s words', async () => {
    const r = await towerctl(t.d, ['updates', 'on1', '--check', '--json']);
    expect(r.code).toBe(4);
    const [res] = JSON.parse(r.stdout) as UpdateResult[];
    expect(res).toMatchObject({ name: 'on1', result: 'failed' });
    expect(res!.reason).toMatch(new RegExp(`^on1 has no ${priv}, the command apk runs under .*packages\\.privilege`));
    expect(res!.reason).not.toMatch(/not found/);
  });
});
