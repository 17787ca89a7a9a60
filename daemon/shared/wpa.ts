import { pbkdf2Sync } from 'node:crypto';

/** A WPA passphrase as IEEE 802.11i allows it: 8–63 printable ASCII characters. */
export function checkWpaPassphrase(passphrase: string): string | null {
  if (passphrase.length < 8 || passphrase.length > 63) return 'a WPA passphrase has 8 to 63 characters';
  if (!/^[\x20-\x7e]*$/.test(passphrase)) return 'a WPA passphrase is printable ASCII only';
  return null;
}

/**
 * The WPA PSK that TowerOS puts in WLAN_SHARED_KEY (and wpa_passphrase prints): PBKDF2-HMAC-SHA1 of the passphrase
 * with the SSID as salt, 4096 iterations, 32 bytes, in hex. The host never needs the passphrase itself.
 */
export function wpaPsk(passphrase: string, ssid: string): string {
  const problem = checkWpaPassphrase(passphrase);
  if (problem) throw new Error(problem);
  const ssidBytes = Buffer.from(ssid, 'utf8');
  if (ssidBytes.length < 1 || ssidBytes.length > 32) throw new Error('an SSID has 1 to 32 bytes');
  return pbkdf2Sync(Buffer.from(passphrase, 'ascii'), ssidBytes, 4096, 32, 'sha1').toString('hex');
}
