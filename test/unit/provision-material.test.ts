import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyboardFrom, langFrom } from '../../daemon/features/provision/locale.js';
import { KEYFILE_BYTES, bootFiles, makeMaterial } from '../../daemon/features/provision/material.js';
import { hashPassword } from '../../daemon/shared/sha512crypt.js';
import { wpaPsk } from '../../daemon/shared/wpa.js';
import { parseTowerEnv, serializeTowerEnv } from '../../daemon/core/registry/towerenv.js';

const DEFAULTS = { keyboardLayout: 'fr', keyboardVariant: 'fr-azerty', timezone: 'Europe/Paris', lang: 'fr_FR.UTF-8' };

/** Every variable of the file as /bin/sh sees it after `. file`, NUL-separated. */
function sourced(file: string, keys: string[]): Record<string, string> {
  const script = `. "$1"; for k in ${keys.join(' ')}; do eval "printf '%s\\0' \\"\\$$k\\""; done`;
  const vals = execFileSync('/bin/sh', ['-c', script, 'sh', file], { encoding: 'utf8' }).split('\0');
  return Object.fromEntries(keys.map((k, i) => [k, vals[i]!]));
}

describe('provisioning material', () => {
  it('a router’s tower.env with quotes, spaces, $ and backslashes reads back exactly through /bin/sh', () => {
    const ssid = `it's "my" $HOME \\net`;
    const m = makeMaterial(
      { name: 'router', role: 'router', passwordHash: hashPassword('x', 1000), wlan: { ssid, psk: wpaPsk('password', ssid) }, towerosVersion: 'v0.7.0' },
      DEFAULTS,
    );
    const env = { HOSTNAME: 'router', USERNAME: 'alice', PUBLIC_KEY: 'ssh-ed25519 AAAAC3Nza x y', ...m.env };
    const dir = mkdtempSync(join(tmpdir(), 'material-'));
    writeFileSync(join(dir, 'tower.env'), serializeTowerEnv(env));
    expect(sourced(join(dir, 'tower.env'), Object.keys(env))).toEqual(env);
    expect(parseTowerEnv(serializeTowerEnv(env))).toEqual(env);
    expect(m.env).toMatchObject({
      WLAN_SSID: ssid,
      KEYBOARD_LAYOUT: 'fr',
      KEYBOARD_VARIANT: 'fr-azerty',
      TIMEZONE: 'Europe/Paris',
      LANG: 'fr_FR.UTF-8',
      INSTALLATION_TYPE: 'install',
      ALPINE_BRANCH: 'v3.19',
      TOWEROS_VERSION: 'v0.7.0',
    });
    expect(m.env.PASSWORD_HASH).toMatch(/^\$6\$rounds=1000\$/);
    expect(Object.keys(m.env)).not.toContain('PASSWORD');
  });

  it('host keys of three types, a 2 KiB key file, the boot files in TowerOS’s order', () => {
    const m = makeMaterial({ name: 'office', role: 'offline', passwordHash: '$6$x$y', keyboard: { layout: 'de' }, timezone: 'UTC', towerosVersion: null }, DEFAULTS);
    expect(m.hostKeys.map((k) => [k.type, k.file, k.publicKey.split(' ')[0]])).toEqual([
      ['ed25519', 'ssh_host_ed25519_key', 'ssh-ed25519'],
      ['ecdsa', 'ssh_host_ecdsa_key', 'ecdsa-sha2-nistp256'],
      ['rsa', 'ssh_host_rsa_key', 'ssh-rsa'],
    ]);
    expect(m.hostKeys.every((k) => k.privateKey.startsWith('-----BEGIN OPENSSH PRIVATE KEY-----') && k.publicKey.trim().endsWith('root@office'))).toBe(true);
    expect(m.keyfile.length).toBe(KEYFILE_BYTES);
    expect(m.env).toMatchObject({ KEYBOARD_LAYOUT: 'de', KEYBOARD_VARIANT: 'de', TIMEZONE: 'UTC' });
    expect(m.env).not.toHaveProperty('WLAN_SSID');
    expect(m.env).not.toHaveProperty('TOWEROS_VERSION');
    expect(bootFiles(m.hostKeys)).toEqual([
      'tower.env',
      'crypto_keyfile.bin',
      'ssh_host_ed25519_key',
      'ssh_host_ed25519_key.pub',
      'ssh_host_ecdsa_key',
      'ssh_host_ecdsa_key.pub',
      'ssh_host_rsa_key',
      'ssh_host_rsa_key.pub',
    ]);
  });

  it('Wi-Fi is for the router, and the router needs it', () => {
    expect(() => makeMaterial({ name: 'router', role: 'router', passwordHash: '$6$x$y', towerosVersion: null }, DEFAULTS)).toThrow(/router needs the Wi-Fi/);
    expect(() => makeMaterial({ name: 'web', role: 'online', passwordHash: '$6$x$y', wlan: { ssid: 'a', psk: '0'.repeat(64) }, towerosVersion: null }, DEFAULTS)).toThrow(/only the router/);
  });

  it('takes the thin client’s keyboard and language (Alpine and Debian files)', () => {
    expect(keyboardFrom('KEYMAP=/etc/keymap/fr-azerty.bmap.gz\n', '')).toEqual({ layout: 'fr', variant: 'fr-azerty' });
    expect(keyboardFrom('', 'XKBMODEL="pc105"\nXKBLAYOUT="de"\nXKBVARIANT="nodeadkeys"\n')).toEqual({ layout: 'de', variant: 'de-nodeadkeys' });
    expect(keyboardFrom('', 'XKBLAYOUT="gb"\nXKBVARIANT=""\n')).toEqual({ layout: 'gb', variant: 'gb' });
    expect(keyboardFrom('', '')).toEqual({ layout: 'us', variant: 'us' });
    expect(langFrom({ LANG: 'de_DE.UTF-8' })).toBe('de_DE.UTF-8');
    expect(langFrom({ LANG: 'C.UTF-8' })).toBe('en_US.UTF-8');
    expect(langFrom({ LC_ALL: 'pt_BR', LANG: 'de_DE' })).toBe('pt_BR');
  });
});
