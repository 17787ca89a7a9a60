// The end-of-life warning for real: towerd reads each host's /etc/alpine-release and apk repositories (in the lab's
// apk root, /run/alpine, found from packages.worldFile) when it connects. On 2026-12-04 the lab's stock v3.19 host
// is past its end of support (2025-11-01) and one rewritten to v3.22 is supported until 2027-05-01:
// `towerctl updates` (table and --json), `status --json` and the bar (waybar) say so.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostUpdates, Status } from '../../protocol/index.js';
import { APK_SETTINGS } from '../helpers/apkRepo.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { TOWERCTL, towerctl } from '../helpers/towerd.js';
import { until } from '../helpers/until.js';
import { APK_ROOT, defaultProfile } from '../lab/profile.js';

const root = process.getuid?.() === 0;
const today = new Date().toISOString().slice(0, 10);
let ld: LabDaemon;

describe.skipIf(!root || defaultProfile() !== 'alpine')('Alpine end-of-life warning', () => {
  beforeAll(async () => {
    ld = await labDaemon('eo', { router: false, online: 1, offline: 1, hostPackages: [] }, { packages: APK_SETTINGS, desktop: { sound: 'off' } });
    const v = await ld.lab.execHost('on1', ['sh', '-c', `echo 3.22.2 >${APK_ROOT}/etc/alpine-release && printf '%s\\n' http://dl-cdn.alpinelinux.org/alpine/v3.22/main >${APK_ROOT}/etc/apk/repositories`]);
    expect(v.code, v.stderr).toBe(0);
    // towerd read on1 when it connected: reconnect it so that it reads the new files
    await ld.client.call('host.reconnect', { name: 'on1' });
  }, 120_000);

  afterAll(async () => {
    await ld?.close();
  });

  it('updates --json and status --json give each host its branch and end of support', async () => {
    expect(today >= '2026-11-02').toBe(true); // the dates below are as of the machine's today
    const list = await until('both releases read', async () => {
      const r = await ld.client.call('updates.list', {});
      const on1 = r.hosts.find((h) => h.name === 'on1')?.release;
      return r.hosts.every((h) => h.release) && on1?.branch === 'v3.22' ? r.hosts : undefined;
    }, 30_000);
    const by = (n: string) => list.find((h: HostUpdates) => h.name === n)!.release!;
    expect(by('off1')).toMatchObject({ version: '3.19.1', branch: 'v3.19', eol: '2025-11-01', status: 'eol' });
    expect(by('on1')).toMatchObject({ version: '3.22.2', branch: 'v3.22', eol: '2027-05-01', status: 'supported' });

    const j = await towerctl(ld.d, ['updates', '--json']);
    expect(j.code, j.stderr).toBe(0);
    expect((JSON.parse(j.stdout) as { hosts: HostUpdates[] }).hosts.find((h) => h.name === 'off1')!.release!.status).toBe('eol');

    const st = JSON.parse((await towerctl(ld.d, ['status', '--json'])).stdout) as Status;
    expect(st.hosts.find((h) => h.name === 'off1')!.updates!.release).toMatchObject({ branch: 'v3.19', status: 'eol', eol: '2025-11-01' });
    expect(st.hosts.find((h) => h.name === 'on1')!.updates!.release).toMatchObject({ branch: 'v3.22', status: 'supported' });
  }, 60_000);

  it('the updates table and the bar warn about the host past its end of support, with the date', async () => {
    const t = await towerctl(ld.d, ['updates']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^off1\s.*v3\.19 EOL 2025-11-01/m);
    expect(t.stdout).toMatch(/^on1\s.*v3\.22 to 2027-05-01/m);
    expect(t.stdout).toContain('off1: Alpine v3.19 (3.19.1) is past its end of support since 2025-11-01');
    expect(t.stdout).not.toContain('on1: Alpine');

    const bar = spawn(process.execPath, [TOWERCTL, 'bar', '--format', 'waybar'], { env: { ...ld.d.env, NO_COLOR: '1' } });
    let out = '';
    bar.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    try {
      const line = await until('a waybar line', () => out.split('\n').slice(0, -1).at(-1), 15_000);
      const w = JSON.parse(line) as { tooltip: string; class: string[] };
      expect(w.class).toContain('eol');
      const lines = w.tooltip.split('\n');
      expect(lines.find((l) => l.includes(' off1 '))).toContain('EOL v3.19</span> (Alpine v3.19 past its end of support since 2025-11-01)');
      expect(lines.find((l) => l.includes(' on1 '))).not.toContain('EOL');
    } finally {
      bar.kill('SIGTERM');
    }
  }, 60_000);

  it('is read again after a check: a host moved to v3.21, past its end on 2026-11-01', async () => {
    // the read on (re)connection is done: v3.22 is what towerd knows
    await until('on1 at v3.22', async () => (await ld.client.call('host.get', { name: 'on1' })).updates?.release?.branch === 'v3.22' || undefined, 30_000);
    const v = await ld.lab.execHost('on1', ['sh', '-c', `echo 3.21.4 >${APK_ROOT}/etc/alpine-release && printf '%s\\n' http://dl-cdn.alpinelinux.org/alpine/v3.21/main >${APK_ROOT}/etc/apk/repositories`]);
    expect(v.code, v.stderr).toBe(0);
    // the lab internet has no repository here, so the check itself fails: it still ends a check
    await towerctl(ld.d, ['updates', 'on1', '--check']);
    const r = await until('on1 read again', async () => {
      const st = await ld.client.call('host.get', { name: 'on1' });
      return st.updates?.release?.branch === 'v3.21' ? st.updates.release : undefined;
    }, 30_000);
    expect(r).toMatchObject({ version: '3.21.4', branch: 'v3.21', eol: '2026-11-01', status: 'eol' });
  }, 90_000);
});
