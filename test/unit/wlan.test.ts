import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keyValues, parseLink, procWirelessDbm, wpaConf } from '../../daemon/features/wlan/conf.js';
import { APPLY_SCRIPT, COMMIT_SCRIPT, RESTORE_SCRIPT, parseCheck, splitStatus } from '../../daemon/features/wlan/router.js';

// what wpa_cli 2.10 prints on an associated station
const STATUS = `bssid=a4:2b:b0:12:34:56
freq=5180
ssid=Home Net
id=0
mode=station
wifi_generation=5
pairwise_cipher=CCMP
group_cipher=CCMP
key_mgmt=WPA2-PSK
wpa_state=COMPLETED
ip_address=192.168.178.23
p2p_device_address=de:ad:be:ef:00:01
address=dc:a6:32:00:00:01
uuid=1b2c3d4e-0000-0000-0000-000000000000
`;
const SIGNAL = 'RSSI=-61\nLINKSPEED=433\nNOISE=9999\nFREQUENCY=5180\nCENTER_FRQ1=5210\nWIDTH=80 MHz\n';
const WIRELESS = `Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE
 face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22
 wlan0: 0000   49.  -61.  -256        0      0      0      0     12        0
`;

describe('the router’s Wi-Fi status', () => {
  it('reads network, state, signal, frequency, speed and address from wpa_cli', () => {
    expect(parseLink(STATUS, SIGNAL, WIRELESS, 'wlan0')).toEqual({ state: 'COMPLETED', ssid: 'Home Net', signalDbm: -61, frequencyMhz: 5180, linkSpeedMbps: 433, ip: '192.168.178.23' });
  });

  it('falls back to /proc/net/wireless for the signal when signal_poll fails', () => {
    expect(parseLink(STATUS, 'FAIL\n', WIRELESS, 'wlan0').signalDbm).toBe(-61);
    expect(procWirelessDbm(WIRELESS, 'wlan1')).toBeNull();
    expect(procWirelessDbm('', 'wlan0')).toBeNull();
  });

  it('an unassociated interface has a state and no network or signal', () => {
    expect(parseLink('wpa_state=SCANNING\naddress=dc:a6:32:00:00:01\n', 'FAIL\n', WIRELESS, 'wlan0')).toEqual({ state: 'SCANNING', ssid: null, signalDbm: null, frequencyMhz: null, linkSpeedMbps: null, ip: null });
  });

  it('wpa_cli that cannot reach wpa_supplicant gives nulls, not errors', () => {
    const down = "Failed to connect to non-global ctrl_ifname: wlan0  error: No such file or directory\n";
    expect(parseLink(down, down, '', 'wlan0')).toEqual({ state: null, ssid: null, signalDbm: null, frequencyMhz: null, linkSpeedMbps: null, ip: null });
  });

  it('is bounded and ignores what does not fit', () => {
    const hostile = `wpa_state=COMPLETED; rm\nssid=${'x'.repeat(300)}\nRSSI=-9999999\nip_address=1.2.3.4$(id)\n`;
    expect(parseLink(hostile, 'RSSI=12\nFREQUENCY=abc\n', '', 'wlan0')).toEqual({ state: null, ssid: null, signalDbm: null, frequencyMhz: null, linkSpeedMbps: null, ip: null });
    const many = Array.from({ length: 500 }, (_, i) => `k${i}=v`).join('\n');
    expect(keyValues(many).size).toBe(64);
    // the first of a repeated key counts
    expect(keyValues('ssid=a\nssid=b\n').get('ssid')).toBe('a');
  });

  it('splits the status script’s sections', () => {
    const out = `--status\n${STATUS}\n--signal\n${SIGNAL}\n--wireless\n${WIRELESS}--prev\nyes\n`;
    const p = splitStatus(out);
    expect(p.status.trim()).toBe(STATUS.trim());
    expect(p.signal.trim()).toBe(SIGNAL.trim());
    expect(p.wireless).toBe(WIRELESS.replace(/\n$/, ''));
    expect(p.prev).toBe(true);
    expect(splitStatus('--status\n\n--signal\nFAIL\n\n--wireless\n--prev\nno\n')).toEqual({ status: '', signal: 'FAIL\n', wireless: '', prev: false });
  });

  it('reads the uplink check’s one word', () => {
    expect(parseCheck('tower-wlan-check connected\n', 'h:443')).toEqual({ ok: true, detail: 'connected (h:443)' });
    expect(parseCheck('tower-wlan-check no-route\n', 'h:443')).toEqual({ ok: false, detail: 'no default route on the Wi-Fi interface' });
    expect(parseCheck('tower-wlan-check error-ENETUNREACH\n', 'h:443')).toEqual({ ok: false, detail: 'connect failed (ENETUNREACH) (h:443)' });
    expect(parseCheck('tower-wlan-check connected please\n', 'h:443')).toBeUndefined();
    expect(parseCheck('Traceback …', 'h:443')).toBeUndefined();
  });
});

describe('the wpa_supplicant.conf Tower writes', () => {
  it('holds the SSID in hex and the PSK, never anything that could end the block', () => {
    const psk = 'a'.repeat(64);
    const conf = wpaConf('Cafe "5G"\n}\nnetwork={', psk);
    expect(conf).toContain(`\tssid=${Buffer.from('Cafe "5G"\n}\nnetwork={').toString('hex')}\n`);
    expect(conf).toContain(`\tkey_mgmt=WPA-PSK\n\tpsk=${psk}\n}\n`);
    expect(conf.match(/network=\{/g)).toHaveLength(1);
    expect(wpaConf('Open', null)).toContain('\tkey_mgmt=NONE\n');
    expect(wpaConf('Open', null)).not.toContain('psk=');
    expect(() => wpaConf('x'.repeat(33), null)).toThrow(/1 to 32 bytes/);
    expect(() => wpaConf('x', 'nothex')).toThrow(/64 hex/);
  });
});

// The router-side file handling, in busybox sh as on Alpine, on a folder of its own.
const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
describe.skipIf(!busybox)('keeping the previous file until the change is proven (busybox sh)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tower-wlan-unit-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const bin = join(tmp, 'bin');
  mkdirSync(bin, { recursive: true });
  if (busybox) for (const a of ['sh', 'mkdir', 'cp', 'mv', 'rm', 'cat', 'chmod', 'sync']) symlinkSync(busybox, join(bin, a));
  const dir = join(tmp, 'etc', 'wpa_supplicant');
  const conf = join(dir, 'wpa_supplicant.conf');
  const sh = (script: string, input = '') => spawnSync(join(bin, 'sh'), ['-c', script, 'sh', conf], { input, env: { PATH: bin }, encoding: 'utf8' });

  it('no file before: the change is written, and a roll-back removes it again', () => {
    expect(sh(APPLY_SCRIPT, 'new-1').stdout).toBe('tower-wlan-apply prev=none\n');
    expect(readFileSync(conf, 'utf8')).toBe('new-1');
    expect(statSync(conf).mode & 0o777).toBe(0o600);
    expect(sh(RESTORE_SCRIPT).stdout).toBe('tower-wlan-restore ok\n');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps the proven file across two unproven changes, restores it, and a commit removes it', () => {
    writeFileSync(conf, 'proven');
    expect(sh(APPLY_SCRIPT, 'try-1').stdout).toBe('tower-wlan-apply prev=saved\n');
    // towerd stopped before the check: the next change keeps the proven file, not the unproven one
    expect(sh(APPLY_SCRIPT, 'try-2').stdout).toBe('tower-wlan-apply prev=kept\n');
    expect(readFileSync(`${conf}.tower-prev`, 'utf8')).toBe('proven');
    expect(sh(RESTORE_SCRIPT).status).toBe(0);
    expect(readFileSync(conf, 'utf8')).toBe('proven');
    expect(readdirSync(dir)).toEqual(['wpa_supplicant.conf']);
    expect(sh(RESTORE_SCRIPT).status).toBe(3);
    sh(APPLY_SCRIPT, 'good');
    expect(sh(COMMIT_SCRIPT).stdout).toBe('tower-wlan-commit ok\n');
    expect(readFileSync(conf, 'utf8')).toBe('good');
    expect(readdirSync(dir)).toEqual(['wpa_supplicant.conf']);
  });
});
