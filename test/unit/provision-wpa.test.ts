import { describe, expect, it } from 'vitest';
import { checkWpaPassphrase, wpaPsk } from '../../daemon/shared/wpa.js';

describe('WPA PSK (PBKDF2-HMAC-SHA1, 4096 rounds, 32 bytes)', () => {
  it.each([
    // IEEE 802.11i-2004 Annex H.4 test vectors
    ['password', 'IEEE', 'f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e'],
    ['ThisIsAPassword', 'ThisIsASSID', '0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af'],
    ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ', 'becb93866bb8c3832cb777c2f559807c8c59afcb6eae734885001300a981cc62'],
  ])('%j on %j', (pass, ssid, psk) => {
    expect(wpaPsk(pass, ssid)).toBe(psk);
  });

  it('refuses what WPA does not allow', () => {
    expect(checkWpaPassphrase('short')).toMatch(/8 to 63/);
    expect(checkWpaPassphrase('x'.repeat(64))).toMatch(/8 to 63/);
    expect(checkWpaPassphrase('caf\u00e9-caf\u00e9')).toMatch(/ASCII/);
    expect(checkWpaPassphrase("it's a \"pass\" $x \\")).toBeNull();
    expect(() => wpaPsk('password', '')).toThrow(/1 to 32 bytes/);
    expect(() => wpaPsk('password', 'x'.repeat(33))).toThrow(/1 to 32 bytes/);
  });
});
