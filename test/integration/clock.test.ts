// Host clocks for real, without ever moving the machine's: lab hosts share its kernel clock, so each host's clock is
// faked with libfaketime (test/lab/clock.ts) and the lab's `date -s` moves the faked clock only
// (test/lab/date-standin.py). The offline host, 30 s behind, is set by towerd through doas to within 1 s of the
// thin client's, as towerd measures afterwards and as the test reads on the host itself; the online host and a
// second offline host, 30 s ahead but running a time service (a process named chronyd: the lab has no chrony), are
// left alone; doctor, status, host show and towerctl clock say so.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TowerClient } from '../../client/rpc.js';
import type { HostClock } from '../../protocol/index.js';
import { startDaemon, tempHome, towerctl, type RunningDaemon } from '../helpers/towerd.js';
import { until } from '../helpers/until.js';
import { fakeClock, faketimeLib, hostClockOffset } from '../lab/clock.js';
import { labUp, type RunningLab } from '../lab/lab.js';
import { defaultProfile } from '../lab/profile.js';

const root = process.getuid?.() === 0;
let haveFaketime = true;
try {
  faketimeLib();
} catch {
  haveFaketime = false;
}

let lab: RunningLab;
let d: RunningDaemon;
let client: TowerClient;

const clockOf = async (name: string): Promise<HostClock | undefined> => (await client.call('host.get', { name })).clock;

describe.skipIf(!root || !haveFaketime || defaultProfile() !== 'alpine')('host clocks', () => {
  beforeAll(async () => {
    lab = await labUp({ prefix: `twlt${process.pid % 10000}ck`, home: tempHome('tower-ck-'), router: false, online: 1, offline: 2, hostPackages: [] });
    try {
      await fakeClock(lab, 'off1', -30);
      await fakeClock(lab, 'on1', 30);
      await fakeClock(lab, 'off2', 30);
      // a stand-in time service: a process whose name is chronyd
      for (const h of ['on1', 'off2']) {
        const svc = await lab.execHost(h, ['sh', '-c', 'ln -sf /usr/bin/sleep /tmp/chronyd && (/tmp/chronyd 3600 >/dev/null 2>&1 </dev/null &)']);
        if (svc.code !== 0) throw new Error(`chronyd stand-in on ${h}: ${svc.stderr}`);
      }
      // before towerd: both clocks are 30 s off, as the hosts themselves read them
      expect(Math.abs((await hostClockOffset(lab, 'off1')) + 30_000)).toBeLessThan(1000);
      expect(Math.abs((await hostClockOffset(lab, 'on1')) - 30_000)).toBeLessThan(1000);
      mkdirSync(join(lab.home, '.config', 'tower'), { recursive: true });
      writeFileSync(join(lab.home, '.config', 'tower', 'towerd.json'), JSON.stringify({ desktop: { sound: 'off' }, clock: { everyMs: 600_000 } }));
      d = await startDaemon({ home: lab.home, spawnPrefix: lab.tcSpawnPrefix() });
      client = await TowerClient.connect(d.socket, { validate: true });
    } catch (err) {
      await d?.stop();
      await lab.down();
      throw err;
    }
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await d?.stop();
    await lab?.down();
  });

  it('sets the offline host’s clock, 30 s behind, to within 1 s of the thin client’s on connection', async () => {
    const c = await until('off1 clock set', async () => {
      const c = await clockOf('off1');
      return c?.lastSet ? c : undefined;
    }, 60_000);
    expect(c.source).toBe('none');
    expect(c.policy).toBe('set');
    expect(c.lastSet!.error).toBeNull();
    expect(c.lastSet!.beforeMs).toBeGreaterThan(-31_000);
    expect(c.lastSet!.beforeMs).toBeLessThan(-29_000);
    // towerd's measurement afterwards and the host's own reading
    expect(Math.abs(c.lastSet!.afterMs!)).toBeLessThan(1000);
    expect(Math.abs(c.offsetMs!)).toBeLessThan(1000);
    const seen = await hostClockOffset(lab, 'off1');
    expect(Math.abs(seen)).toBeLessThan(1000);
    const { records } = await client.call('logs.tail', { lines: 500 });
    const line = records.find((r) => r.msg === 'set the host clock' && r.host === 'off1');
    expect(line, JSON.stringify(records.slice(-20))).toBeDefined();
    console.log(`off1: ${c.lastSet!.beforeMs} ms before, ${c.lastSet!.afterMs} ms after (towerd), ${seen.toFixed(1)} ms (host's own reading); ${JSON.stringify(line!.fields)}`);
  }, 90_000);

  it('leaves hosts running a time service alone, 30 s ahead: the online host and an offline one', async () => {
    for (const name of ['on1', 'off2']) {
      const c = await until(`${name} clock measured`, async () => {
        const c = await clockOf(name);
        return c?.offsetMs !== null && c?.offsetMs !== undefined ? c : undefined;
      }, 60_000);
      expect(c.source).toBe('chronyd');
      expect(c.policy).toBe('leave');
      expect(c.reason).toBe(name === 'on1' ? 'an online host: it has a time source of its own' : 'chronyd keeps its clock');
      expect(c.offsetMs!).toBeGreaterThan(29_000);
      expect(c.offsetMs!).toBeLessThan(31_000);
    }
    // a sync on request measures again and still sets nothing
    const { hosts } = await client.call('clock.sync', { hosts: ['on1', 'off2'] });
    for (const h of hosts) expect(h.clock!.lastSet, h.name).toBeNull();
    expect(Math.abs((await hostClockOffset(lab, 'on1')) - 30_000)).toBeLessThan(1000);
    expect(Math.abs((await hostClockOffset(lab, 'off2')) - 30_000)).toBeLessThan(1000);
  }, 90_000);

  it('doctor, status --json, host show and towerctl clock show the offsets', async () => {
    const doc = await towerctl(d, ['doctor', '--json']);
    const checks = JSON.parse(doc.stdout) as { scope: string; check: string; status: string; detail: string; fix: string }[];
    const on1 = checks.find((c) => c.scope === 'on1' && c.check === 'clock')!;
    const off1 = checks.find((c) => c.scope === 'off1' && c.check === 'clock')!;
    expect(on1.status, JSON.stringify(on1)).toBe('warn');
    expect(on1.detail).toMatch(/^\+(29|30)\.\d{3} s ± 0\.\d{3} s .*chronyd keeps it/);
    expect(on1.fix).toMatch(/"on1": \{"set": true\}/);
    expect(off1.status, JSON.stringify(off1)).toBe('ok');
    expect(off1.detail).toMatch(/^[+-]0\.\d{3} s ± 0\.\d{3} s .*; set .*\(-(29|30)\.\d{3} s before, [+-]?0\.\d{3} s after\)/);

    const st = await towerctl(d, ['status', '--json']);
    const hosts = (JSON.parse(st.stdout) as { hosts: { name: string; clock?: HostClock }[] }).hosts;
    expect(hosts.find((h) => h.name === 'off1')!.clock!.lastSet).not.toBeNull();
    expect(hosts.find((h) => h.name === 'on1')!.clock!.source).toBe('chronyd');

    const show = await towerctl(d, ['host', 'show', 'off1'], {});
    expect(show.stdout).toMatch(/clock\s+[+-]0\.\d{3} s ± 0\.\d{3} s \(measured .*\); time service none; towerd sets it \(an offline host without a time service\); set .*: -(29|30)\.\d{3} s → [+-]0\.\d{3} s/);

    const list = await towerctl(d, ['clock']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^on1\s+\+(29|30)\.\d{3} s ± 0\.\d{3} s\s.*chronyd\s+leave/m);
  }, 120_000);

  it('clock.hosts.NAME.set: true sets a clock even while a time service runs', async () => {
    writeFileSync(join(lab.home, '.config', 'tower', 'towerd.json'), JSON.stringify({ desktop: { sound: 'off' }, clock: { everyMs: 600_000, hosts: { on1: { set: true } } } }));
    await client.call('daemon.reload', {});
    const { hosts } = await client.call('clock.sync', { hosts: ['on1'] });
    const c = hosts[0]!.clock!;
    expect(c.policy).toBe('set');
    expect(c.reason).toBe('clock.hosts.on1.set is true');
    expect(c.lastSet!.beforeMs).toBeGreaterThan(29_000);
    expect(Math.abs(c.lastSet!.afterMs!)).toBeLessThan(1000);
    expect(Math.abs(await hostClockOffset(lab, 'on1'))).toBeLessThan(1000);
  }, 90_000);
});
