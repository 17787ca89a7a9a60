// Wi-Fi on the lab's router: stand-ins for OpenRC's `rc-service wpa_supplicant` and for `wpa_cli`, and a lab
// "access point" (a file) that decides whether the router's wlan0 gets its uplink. README.md, "Wi-Fi on the router".
import type { Lab } from './types.js';

/** Inside the router: the stand-ins' state (its private /run). */
export const WIFI_STATE = '/run/lab-wifi';
/** Inside the router: where the stand-ins are found (a tmpfs over the machine's empty /usr/local/sbin, on doas's PATH). */
export const WIFI_BIN = '/usr/local/sbin';

/**
 * `rc-service wpa_supplicant start|stop|restart|status`, as root. Restart takes wlan0 down, reads the network block
 * of the configuration file (ssid=, psk=, key_mgmt=) and, only when they match the access point's file, brings wlan0
 * back up with its default route to the "internet" namespace; otherwise wlan0 stays down (no carrier, no route), as
 * a real wlan0 that cannot associate.
 */
const RC_SERVICE = `#!/bin/sh
# Tower lab stand-in for OpenRC's rc-service, wpa_supplicant only (test/lab/wifi.ts)
set -u
st=${WIFI_STATE}
if [ "\${1:-}" != wpa_supplicant ]; then echo " * rc-service: service \\\`\${1:-}' does not exist" >&2; exit 1; fi
conf=$(cat "$st/conf-path")
field() { sed -n "/^network={/,/^}/s/^[[:space:]]*$1=//p" "$conf" 2>/dev/null | head -n 1; }
ap() { sed -n "s/^$1=//p" "$st/ap" | head -n 1; }
stop() { ip link set wlan0 down; echo DISCONNECTED >"$st/wpa_state"; echo " * Stopping wpa_supplicant ... [ ok ]"; }
start() {
  ssid=$(field ssid); psk=$(field psk)
  [ "$(field key_mgmt)" = NONE ] && psk=open
  echo " * Starting wpa_supplicant ... [ ok ]"
  if [ -n "$ssid" ] && [ "$ssid" = "$(ap ssid)" ] && [ "$psk" = "$(ap psk)" ]; then
    ip link set wlan0 up
    ip route replace default via $(ap gateway) dev wlan0
    echo COMPLETED >"$st/wpa_state"
  else
    echo SCANNING >"$st/wpa_state"
  fi
}
case "\${2:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) echo " * status: $(cat "$st/wpa_state")" ;;
  *) echo "rc-service wpa_supplicant: unknown action \${2:-}" >&2; exit 1 ;;
esac
`;

/** `wpa_cli [-i IFACE] status|signal_poll`, answering from the stand-in's state as wpa_cli does. */
const WPA_CLI = `#!/bin/sh
# Tower lab stand-in for wpa_cli (test/lab/wifi.ts)
st=${WIFI_STATE}
iface=wlan0
if [ "\${1:-}" = -i ]; then iface=$2; shift 2; fi
if [ "$iface" != wlan0 ]; then echo "Failed to connect to non-global ctrl_ifname: $iface  error: No such file or directory"; exit 255; fi
ws=$(cat "$st/wpa_state" 2>/dev/null || echo INTERFACE_DISABLED)
ap() { sed -n "s/^$1=//p" "$st/ap" | head -n 1; }
case "\${1:-status}" in
  status)
    if [ "$ws" = COMPLETED ]; then
      printf 'bssid=02:00:5e:10:00:01\\nfreq=2437\\nssid=%s\\nid=0\\nmode=station\\npairwise_cipher=CCMP\\ngroup_cipher=CCMP\\nkey_mgmt=WPA2-PSK\\nwpa_state=COMPLETED\\nip_address=10.90.0.1\\naddress=02:00:5e:00:00:01\\n' "$(ap text)"
    else
      printf 'wpa_state=%s\\naddress=02:00:5e:00:00:01\\n' "$ws"
    fi ;;
  signal_poll)
    if [ "$ws" = COMPLETED ]; then printf 'RSSI=%s\\nLINKSPEED=65\\nNOISE=9999\\nFREQUENCY=2437\\n' "$(ap rssi)"; else echo FAIL; fi ;;
  *) echo "Unknown command '$1'"; exit 1 ;;
esac
`;

export interface AccessPoint {
  /** the network's name as text */
  ssid: string;
  /** 64 hex digits, or null for an open network */
  psk: string | null;
  rssi?: number;
}

function apFile(ap: AccessPoint, gateway: string): string {
  return `ssid=${Buffer.from(ap.ssid, 'utf8').toString('hex')}\npsk=${ap.psk ?? 'open'}\ntext=${ap.ssid}\nrssi=${ap.rssi ?? -52}\ngateway=${gateway}\n`;
}

async function root(lab: Lab, host: string, script: string, input?: string): Promise<void> {
  const r = await lab.execHost(host, ['sh', '-c', script], { input, timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`Wi-Fi stand-in on ${host}: ${r.stderr || r.stdout}`);
}

/**
 * Puts the stand-ins on the router (in its own mount namespace only), with the access point `ap`, the configuration
 * file at `confPath` (written from `conf`), and Wi-Fi started from it.
 */
export async function installWifi(lab: Lab, opts: { confPath: string; conf: string; ap: AccessPoint; host?: string }): Promise<void> {
  const host = opts.host ?? 'router';
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  await root(lab, host, `set -e; mountpoint -q ${WIFI_BIN} || mount -t tmpfs -o mode=0755 tower-lab-wifi ${WIFI_BIN}; mkdir -p ${WIFI_STATE}; cat >${WIFI_BIN}/rc-service; chmod 755 ${WIFI_BIN}/rc-service`, RC_SERVICE);
  await root(lab, host, `set -e; cat >${WIFI_BIN}/wpa_cli; chmod 755 ${WIFI_BIN}/wpa_cli`, WPA_CLI);
  await root(lab, host, `set -e; printf '%s\\n' ${q(opts.confPath)} >${WIFI_STATE}/conf-path; mkdir -p "$(dirname ${q(opts.confPath)})"; cat >${q(opts.confPath)}; chmod 600 ${q(opts.confPath)}`, opts.conf);
  await setAccessPoint(lab, opts.ap, host);
  await root(lab, host, `${WIFI_BIN}/rc-service wpa_supplicant restart >/dev/null`);
}

/** The access point's network from now on (the router notices at its next Wi-Fi restart). */
export async function setAccessPoint(lab: Lab, ap: AccessPoint, host = 'router'): Promise<void> {
  await root(lab, host, `cat >${WIFI_STATE}/ap`, apFile(ap, lab.internetIp));
}
