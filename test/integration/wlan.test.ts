// `towerctl wlan router` against the lab's router, with the Wi-Fi stand-ins (test/lab/wifi.ts): a change that leaves
// the router without an uplink is rolled back within the timeout, a good one sticks, --status shows the network.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Result } from '../../protocol/index.js';
import { wpaConf } from '../../daemon/features/wlan/conf.js';
import { RESUME_TIMEOUT_S } from '../../daemon/features/wlan/router.js';
import { wpaPsk } from '../../daemon/shared/wpa.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { startDaemon, towerctl, type RunningDaemon } from '../helpers/towerd.js';
import { until } from '../helpers/until.js';
import { TowerClient } from '../../client/rpc.js';
import { startTcpListener, type Listener } from '../lab/listener.js';
import { installWifi, setAccessPoint } from '../lab/wifi.js';

const root = process.getuid?.() === 0;
let t: LabDaemon;
let listener: Listener;
/** daemons a test started in place of the lab's */
const extra: RunningDaemon[] = [];
/** inside the router's private /run: the machine's /etc is not the router's to change */
const CONF = '/run/lab-wifi/etc/wpa_supplicant.conf';
const CHECK_PORT = 8443;
const HOME_NET = { ssid: 'Tower Lab', pass: 'correct horse battery' };

async function onRouter(cmd: string): Promise<{ code: number; stdout: string }> {
  return t.lab.execHost('router', ['sh', '-c', cmd]);
}

/** Is the router's uplink there: a default route on wlan0 and the internet's listener reachable? */
async function uplink(): Promise<boolean> {
  const route = await onRouter('ip route show default dev wlan0');
  if (!route.stdout.includes('default')) return false;
  const r = await t.lab.execHost('router', ['python3', '-c', `import socket; socket.create_connection(('${t.lab.internetIp}', ${CHECK_PORT}), 2).close()`]);
  return r.code === 0;
}

describe.skipIf(!root)('wlan router', () => {
  beforeAll(async () => {
    t = await labDaemon('wl', { online: 0, offline: 0 }, {
      desktop: { sound: 'off' },
      audit: { auto: false },
      packages: { updates: { enabled: false } },
      wlan: { confPath: CONF, checkTarget: `10.90.0.2:${CHECK_PORT}` },
    });
    listener = await startTcpListener(t.lab.internetSpawnPrefix(), t.lab.internetIp, CHECK_PORT, 300_000);
    const psk = wpaPsk(HOME_NET.pass, HOME_NET.ssid);
    await installWifi(t.lab, { confPath: CONF, conf: wpaConf(HOME_NET.ssid, psk), ap: { ssid: HOME_NET.ssid, psk } });
    expect(await uplink()).toBe(true);
    writeFileSync(join(t.lab.home, 'wrong-pass'), 'not the password\n', { mode: 0o600 });
    writeFileSync(join(t.lab.home, 'home-pass'), `${HOME_NET.pass}\n`, { mode: 0o600 });
  }, 120_000);
  afterAll(async () => {
    await Promise.all(extra.map((d) => d.stop('SIGKILL')));
    await listener?.stop();
    await t?.close();
    if (t) rmSync(t.lab.home, { recursive: true, force: true });
  });

  it('--status shows the network and the signal', async () => {
    const r = await towerctl(t.d, ['wlan', 'router', '--status']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^network\s+Tower Lab$/m);
    expect(r.stdout).toMatch(/^state\s+COMPLETED$/m);
    expect(r.stdout).toMatch(/^signal\s+-52 dBm$/m);
    const j = await towerctl(t.d, ['wlan', 'router', '--status', '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ host: 'router', ssid: 'Tower Lab', signalDbm: -52, frequencyMhz: 2437, ip: '10.90.0.1', unproven: false });
  });

  it('a change that gives the router no uplink is rolled back within the timeout', async () => {
    const before = (await onRouter(`cat ${CONF}`)).stdout;
    const t0 = Date.now();
    const r = await towerctl(t.d, ['wlan', 'router', '--ssid', HOME_NET.ssid, '--password-file', join(t.lab.home, 'wrong-pass'), '--timeout', '6', '--json']);
    const took = Date.now() - t0;
    expect(r.code, r.stderr).toBe(4);
    const res = JSON.parse(r.stdout) as Result<'wlan.set'>;
    expect(res).toMatchObject({ ok: false, rolledBack: true, uplink: { ok: false, detail: 'no default route on the Wi-Fi interface', afterMs: null }, uplinkAfterRollback: { ok: true } });
    expect(res.message).toMatch(/^no way out on Tower Lab within 6 s \(no default route on the Wi-Fi interface\); the previous settings are back and router has its way out again$/);
    // the roll-back started once the 6 s were up, not later: all of it (write, 6 s, restore, restart, check) took under 6 s + 4 s
    expect(took).toBeLessThan(10_000);
    expect(res.uplinkAfterRollback!.afterMs).toBeLessThan(3000);
    // the old file is back, the uplink too, nothing left beside it
    expect((await onRouter(`cat ${CONF}`)).stdout).toBe(before);
    expect((await onRouter(`ls -A ${CONF.replace(/\/[^/]+$/, '')}`)).stdout).toBe('wpa_supplicant.conf\n');
    expect(await uplink()).toBe(true);
  }, 60_000);

  it('a good change sticks: only the PSK on the router, the old file removed', async () => {
    const next = { ssid: 'Cafe "5G"; rm -rf /', pass: 'another passphrase' };
    await setAccessPoint(t.lab, { ssid: next.ssid, psk: wpaPsk(next.pass, next.ssid), rssi: -67 });
    writeFileSync(join(t.lab.home, 'next-pass'), `${next.pass}\n`, { mode: 0o600 });
    const r = await towerctl(t.d, ['wlan', 'router', '--ssid', next.ssid, '--password-file', join(t.lab.home, 'next-pass'), '--timeout', '10']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^router is on Cafe "5G"; rm -rf \/ and has a way out \(\d+ ms after the restart\)\n$/);
    const conf = (await onRouter(`cat ${CONF}`)).stdout;
    expect(conf).toContain(`ssid=${Buffer.from(next.ssid).toString('hex')}\n`);
    expect(conf).toContain(`psk=${wpaPsk(next.pass, next.ssid)}\n`);
    expect(conf).not.toContain(next.pass);
    expect((await onRouter(`stat -c %a ${CONF}`)).stdout.trim()).toBe('600');
    expect((await onRouter(`ls -A ${CONF.replace(/\/[^/]+$/, '')}`)).stdout).toBe('wpa_supplicant.conf\n');
    expect(await uplink()).toBe(true);
    const st = JSON.parse((await towerctl(t.d, ['wlan', 'router', '--status', '--json'])).stdout) as { ssid: string; signalDbm: number };
    expect(st).toMatchObject({ ssid: next.ssid, signalDbm: -67 });
    // passphrases reach neither towerd's log nor its memory of the request
    expect(t.d.stderr()).not.toContain(next.pass);
    expect(t.d.stderr()).not.toContain(HOME_NET.pass);
  }, 60_000);

  it('kill -9 after the restart on settings with no way out: the next towerd rolls them back', async () => {
    const before = (await onRouter(`cat ${CONF}`)).stdout;
    await t.d.stop();
    const crashing = await startDaemon({ home: t.lab.home, spawnPrefix: t.lab.tcSpawnPrefix(), env: { TOWER_TEST_CRASH_AT: 'wlan-restarted' } });
    extra.push(crashing);
    const client = await TowerClient.connect(crashing.socket, { validate: true });
    await until('router online', async () => (await client.call('host.get', { name: 'router' })).state === 'online', 20_000);
    client.close();
    const r = await towerctl(crashing, ['wlan', 'router', '--ssid', 'Elsewhere', '--open', '--timeout', '30']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/towerctl: connection to towerd closed/);
    expect(await crashing.stop()).toBe(null);
    expect(crashing.proc.signalCode).toBe('SIGKILL');
    // left behind: the unproven file in place, the proven one beside it, no uplink
    expect((await onRouter(`cat ${CONF}`)).stdout).toContain('key_mgmt=NONE');
    expect((await onRouter(`cat ${CONF}.tower-prev`)).stdout).toBe(before);
    expect(await uplink()).toBe(false);
    const t0 = Date.now();
    const next = await startDaemon({ home: t.lab.home, spawnPrefix: t.lab.tcSpawnPrefix() });
    extra.push(next);
    const c2 = await TowerClient.connect(next.socket, { validate: true });
    await until('router online', async () => (await c2.call('host.get', { name: 'router' })).state === 'online', 20_000);
    c2.close();
    const st = await towerctl(next, ['wlan', 'router', '--status', '--json']);
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ unproven: true, state: 'SCANNING' });
    await until('the proven settings back', async () => (await onRouter(`cat ${CONF}`)).stdout === before && (await onRouter(`ls -A ${CONF.replace(/\/[^/]+$/, '')}`)).stdout === 'wpa_supplicant.conf\n', 60_000, 250);
    // rolled back once the 30 s the change gets at connect were up, not before
    expect(Date.now() - t0).toBeGreaterThanOrEqual(RESUME_TIMEOUT_S * 1000 - 1000);
    await until('the uplink back', uplink, 15_000, 250);
    expect(next.stderr()).toMatch(/an unproven Wi-Fi change is on the router/);
  }, 120_000);

  it('refuses a bad passphrase before anything is sent', async () => {
    writeFileSync(join(t.lab.home, 'short'), 'short\n');
    const r = await towerctl(t.d, ['wlan', 'router', '--ssid', 'x', '--password-file', join(t.lab.home, 'short')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('towerctl: --password-file: a WPA passphrase has 8 to 63 characters\n');
    const none = await towerctl(t.d, ['wlan', 'router', '--ssid', 'x']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--password-file FILE .* or --open/);
  });
});
