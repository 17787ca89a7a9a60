// The router's Wi-Fi (`towerctl wlan router`).
import * as z from 'zod/mini';
import { HostName } from './host.js';

/** An SSID as text: 1–32 bytes of UTF-8 (checked by towerd), no control characters. */
export const Ssid = z.string().check(z.minLength(1), z.maxLength(32), z.regex(/^\P{Cc}+$/u, 'an SSID without control characters'));

/** How the uplink check went: `ok`, or why not (no default route on the interface, connect refused, …). */
export const UplinkCheck = z.object({
  ok: z.boolean(),
  /** what the last check saw, in words */
  detail: z.string().check(z.maxLength(300)),
  /** when it first succeeded, counted from the restart; null when it never did */
  afterMs: z.nullable(z.number()),
});
export type UplinkCheck = z.infer<typeof UplinkCheck>;

export const WlanStatus = z.object({
  host: HostName,
  interface: z.string().check(z.maxLength(15)),
  /** wpa_supplicant's state (COMPLETED when associated); null when it did not answer */
  state: z.nullable(z.string().check(z.maxLength(32))),
  ssid: z.nullable(z.string().check(z.maxLength(128))),
  /** dBm, from `wpa_cli signal_poll` (RSSI) or /proc/net/wireless */
  signalDbm: z.nullable(z.number()),
  frequencyMhz: z.nullable(z.number()),
  linkSpeedMbps: z.nullable(z.number()),
  ip: z.nullable(z.string().check(z.maxLength(64))),
  /** a change whose uplink was never proven left the previous settings beside the file (towerd stopped mid-way) */
  unproven: z.boolean(),
});
export type WlanStatus = z.infer<typeof WlanStatus>;

export const wlanMethods = {
  'wlan.set': {
    description:
      'Write the router’s wpa_supplicant.conf (the SSID and the WPA PSK only, or an open network), through its privilege command, keeping the ' +
      'previous file beside it; restart its Wi-Fi; wait up to `timeoutS` for its way out (a default route on the Wi-Fi interface and a TCP connect ' +
      'to wlan.checkTarget). Without one the previous settings are put back and Wi-Fi restarted again (`rolledBack`).',
    params: z.strictObject({
      ssid: Ssid,
      /** 64 hex digits: PBKDF2 of the passphrase (towerctl derives it; the passphrase itself never leaves the thin client) */
      psk: z.nullable(z.string().check(z.regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits'))),
      timeoutS: z._default(z.int().check(z.gte(5), z.lte(600)), 30),
    }),
    result: z.object({
      host: HostName,
      ssid: Ssid,
      ok: z.boolean(),
      rolledBack: z.boolean(),
      /** the check after the change */
      uplink: UplinkCheck,
      /** the check after the roll-back; null when there was none */
      uplinkAfterRollback: z.nullable(UplinkCheck),
      message: z.string().check(z.maxLength(1000)),
      durationMs: z.number(),
    }),
  },
  'wlan.status': {
    description: 'The router’s Wi-Fi now: wpa_supplicant’s state, the network (SSID), signal, frequency, address.',
    params: z.strictObject({}),
    result: WlanStatus,
  },
} as const;
