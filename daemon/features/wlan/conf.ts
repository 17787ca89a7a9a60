// The router's wpa_supplicant.conf, and what wpa_cli says about the link.

/**
 * wpa_supplicant.conf for one network. The SSID is written in hex (wpa_supplicant reads an unquoted `ssid=` as hex),
 * so no character of it can end the string or the block; the key is the 64-hex-digit PSK, never the passphrase.
 * `psk` null: an open network.
 */
export function wpaConf(ssid: string, psk: string | null): string {
  const bytes = Buffer.from(ssid, 'utf8');
  if (bytes.length < 1 || bytes.length > 32) throw new Error('an SSID has 1 to 32 bytes');
  if (psk !== null && !/^[0-9a-f]{64}$/.test(psk)) throw new Error('a PSK is 64 hex digits');
  return [
    '# Written by Tower (towerctl wlan router). The previous file, while a change is unproven: wpa_supplicant.conf.tower-prev',
    'ctrl_interface=/var/run/wpa_supplicant',
    'ctrl_interface_group=wheel',
    'network={',
    `\tssid=${bytes.toString('hex')}`,
    ...(psk === null ? ['\tkey_mgmt=NONE'] : ['\tkey_mgmt=WPA-PSK', `\tpsk=${psk}`]),
    '}',
    '',
  ].join('\n');
}

/** `KEY=value` lines (wpa_cli's status and signal_poll), at most `max` of them, keys and values bounded. */
export function keyValues(text: string, max = 64): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.slice(0, 16 * 1024).split('\n')) {
    if (out.size >= max) break;
    const m = /^([A-Za-z_][A-Za-z0-9_]{0,31})=(.{0,256})$/.exec(line.replace(/\r$/, ''));
    if (m && !out.has(m[1]!)) out.set(m[1]!, m[2]!);
  }
  return out;
}

function num(v: string | undefined, lo: number, hi: number): number | null {
  if (v === undefined || !/^-?\d{1,6}(\.\d{1,3})?$/.test(v.trim())) return null;
  const n = Number(v.trim());
  return n >= lo && n <= hi ? n : null;
}

/** The link level in dBm from /proc/net/wireless' line for `iface` (`wlan0: 0000   54.  -56.  -256 …`). */
export function procWirelessDbm(text: string, iface: string): number | null {
  for (const line of text.slice(0, 16 * 1024).split('\n')) {
    const m = /^\s*([^:\s]{1,15}):\s+\S+\s+(-?\d{1,4})\.?\s+(-?\d{1,4})\.?/.exec(line);
    if (m && m[1] === iface) return num(m[3], -150, 0);
  }
  return null;
}

export interface LinkStatus {
  state: string | null;
  ssid: string | null;
  signalDbm: number | null;
  frequencyMhz: number | null;
  linkSpeedMbps: number | null;
  ip: string | null;
}

/** What `wpa_cli status`, `wpa_cli signal_poll` and /proc/net/wireless say; anything malformed is left null. */
export function parseLink(status: string, signalPoll: string, procWireless: string, iface: string): LinkStatus {
  const st = keyValues(status);
  const sig = keyValues(signalPoll);
  const state = st.get('wpa_state');
  const ssid = st.get('ssid');
  const ip = st.get('ip_address');
  const associated = state === 'COMPLETED';
  return {
    state: state !== undefined && /^[A-Z_0-9]{1,32}$/.test(state) ? state : null,
    ssid: ssid !== undefined && ssid.length > 0 && ssid.length <= 128 ? ssid : null,
    signalDbm: associated ? (num(sig.get('RSSI'), -150, 0) ?? procWirelessDbm(procWireless, iface)) : null,
    frequencyMhz: num(sig.get('FREQUENCY') ?? st.get('freq'), 1, 100_000),
    linkSpeedMbps: associated ? num(sig.get('LINKSPEED'), 0, 100_000) : null,
    ip: ip !== undefined && /^[0-9a-fA-F.:]{2,64}$/.test(ip) ? ip : null,
  };
}
