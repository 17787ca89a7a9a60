import type { Params, Result, UplinkCheck, WlanStatus } from '../../../protocol/index.js';
import type { Core } from '../../core/feature.js';
import { TowerError, noSuchHost } from '../../core/errors.js';
import { runCaptured, runChannel } from '../../core/exec/run.js';
import type { HostSession } from '../../core/ssh/session.js';
import { testCrashSeam } from '../../core/util/testseam.js';
import { parseLink, wpaConf } from './conf.js';

const ROUTER = 'router';
/** how long an unproven change found at connect gets to show its way out before it is rolled back */
export const RESUME_TIMEOUT_S = 30;

/**
 * As root on the router: keep the current file as `CONF.tower-prev` (unless an earlier, unproven change already left
 * one there: that one is the last proven file and stays), then put stdin in place through a temporary file and mv.
 * No file before: an empty `.tower-prev` says so, and a roll-back removes the file again.
 */
export const APPLY_SCRIPT = `set -eu
conf=$1
prev="$conf.tower-prev"
umask 077
mkdir -p "\${conf%/*}"
if [ -e "$prev" ]; then saved=kept
elif [ -e "$conf" ]; then cp -p "$conf" "$prev.tmp"; mv -f "$prev.tmp" "$prev"; saved=saved
else : >"$prev.tmp"; mv -f "$prev.tmp" "$prev"; saved=none
fi
cat >"$conf.tower-new"
chmod 600 "$conf.tower-new"
mv -f "$conf.tower-new" "$conf"
sync
echo "tower-wlan-apply prev=$saved"
`;

/** As root: the previous file back (or none, when there was none). */
export const RESTORE_SCRIPT = `set -eu
conf=$1
prev="$conf.tower-prev"
[ -e "$prev" ] || { echo "tower-wlan-restore missing"; exit 3; }
if [ -s "$prev" ]; then mv -f "$prev" "$conf"; else rm -f "$conf" "$prev"; fi
sync
echo "tower-wlan-restore ok"
`;

/** As root: the change is proven, the previous file goes. */
export const COMMIT_SCRIPT = `set -eu
rm -f "$1.tower-prev"
sync
echo "tower-wlan-commit ok"
`;

/** As root: wpa_cli's status and signal, /proc/net/wireless, and whether an unproven change is pending. */
export const STATUS_SCRIPT = `iface=$1 conf=$2
shift 2
echo "--status"
"$@" -i "$iface" status 2>&1 | head -c 8192
echo
echo "--signal"
"$@" -i "$iface" signal_poll 2>&1 | head -c 4096
echo
echo "--wireless"
head -c 8192 /proc/net/wireless 2>/dev/null
echo "--prev"
if [ -e "$conf.tower-prev" ]; then echo yes; else echo no; fi
`;

/**
 * As the login user (python3 is in TowerOS's stock image): a default route on the Wi-Fi interface in
 * /proc/net/route, then one TCP connect to the check target (its name resolved on the router). One word out.
 */
export const CHECK_SCRIPT = `import errno, socket, sys
iface, host, port, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
def say(w):
    print('tower-wlan-check ' + w)
    sys.exit(0)
route = False
try:
    with open('/proc/net/route') as f:
        for line in f.read(65536).splitlines()[1:]:
            p = line.split()
            if len(p) > 3 and p[0] == iface and p[1] == '00000000' and int(p[3], 16) & 1:
                route = True
except (OSError, ValueError):
    pass
if not route:
    say('no-route')
try:
    addr = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
except OSError:
    say('no-dns')
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(limit)
try:
    s.connect(addr)
    say('connected')
except socket.timeout:
    say('timeout')
except OSError as e:
    say('refused' if e.errno == errno.ECONNREFUSED else 'error-' + errno.errorcode.get(e.errno or 0, 'E'))
`;

const CHECK_WORDS: Record<string, string> = {
  'no-route': 'no default route on the Wi-Fi interface',
  'no-dns': 'the check target’s name does not resolve',
  connected: 'connected',
  timeout: 'no answer from the check target',
  refused: 'the check target refused the connection',
};

/** One word of the check's output, in words; undefined when the output is not one. */
export function parseCheck(stdout: string, target: string): { ok: boolean; detail: string } | undefined {
  const m = /^tower-wlan-check (no-route|no-dns|connected|timeout|refused|error-[A-Z0-9]{1,24})$/m.exec(stdout.slice(-1024));
  if (!m) return undefined;
  const w = m[1]!;
  const words = CHECK_WORDS[w] ?? `connect failed (${w.slice(6)})`;
  return { ok: w === 'connected', detail: w === 'no-route' ? words : `${words} (${target})` };
}

/** The status script's sections. */
export function splitStatus(stdout: string): { status: string; signal: string; wireless: string; prev: boolean } {
  const text = stdout.slice(0, 32 * 1024);
  const section = (name: string, next: string) => {
    const a = text.indexOf(`--${name}\n`);
    if (a < 0) return '';
    const b = text.indexOf(`\n--${next}\n`, a);
    return text.slice(a + name.length + 3, b < 0 ? undefined : b);
  };
  return { status: section('status', 'signal'), signal: section('signal', 'wireless'), wireless: section('wireless', 'prev'), prev: /\n?--prev\nyes\s*$/.test(text) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `towerctl wlan router`: one change at a time. */
export class RouterWlan {
  private busy = false;

  constructor(private readonly core: Core) {}

  private router(): HostSession {
    if (!this.core.registry.get(ROUTER)) throw new TowerError('HostNotFound', `${noSuchHost(ROUTER).message}: the router is the host named router (towerctl host add router --router)`);
    return this.core.connected(ROUTER);
  }

  private root(argv: string[]): string[] {
    return [...this.core.settings().packages.privilege, ...argv];
  }

  private async rootScript(s: HostSession, script: string, args: string[], what: string, input?: string): Promise<string> {
    const r = await runChannel(s, this.root(['sh', '-c', script, 'sh', ...args]), { timeoutMs: 30_000, maxBytes: 64 * 1024, ...(input === undefined ? {} : { input }) });
    const out = r.stdout.toString('utf8');
    if (r.code !== 0) throw new TowerError('WlanFailed', `${what} on ${ROUTER} failed (${r.code === null ? 'no exit status' : `exit ${r.code}`}${r.stderr ? `: ${r.stderr.slice(0, 300)}` : ''})`);
    return out;
  }

  /** Restart Wi-Fi (wlan.restart); the failure in words, or null. */
  private async restart(s: HostSession): Promise<string | null> {
    // through root's shell, so that the command is found on root's PATH (rc-service is in /sbin)
    const r = await runCaptured(s, this.root(['sh', '-c', 'exec "$@"', 'sh', ...this.core.settings().wlan.restart]), 60_000, 16 * 1024);
    if (r.code === 0) return null;
    return `restarting Wi-Fi (${this.core.settings().wlan.restart.join(' ')}) failed (${r.code === null ? 'no exit status' : `exit ${r.code}`}${r.stderr ? `: ${r.stderr.slice(0, 300)}` : ''})`;
  }

  /** Poll the uplink check until it succeeds or `deadline` passes. */
  private async waitUplink(s: HostSession, started: number, deadline: number): Promise<UplinkCheck> {
    const { interface: iface, checkTarget } = this.core.settings().wlan;
    const i = checkTarget.lastIndexOf(':');
    const [host, port] = [checkTarget.slice(0, i), checkTarget.slice(i + 1)];
    let detail = 'not checked: the timeout passed during the restart';
    for (let n = 0; n < 10_000; n++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const limit = Math.max(0.2, Math.min(3, left / 1000));
      const r = await runChannel(s, ['python3', '-', iface, host, port, limit.toFixed(2)], { timeoutMs: limit * 1000 + 5000, input: CHECK_SCRIPT, maxBytes: 4096 });
      const c = parseCheck(r.stdout.toString('utf8'), checkTarget);
      if (c?.ok) return { ok: true, detail: c.detail, afterMs: Date.now() - started };
      detail = c?.detail ?? `the check did not run on ${ROUTER} (${r.code === null ? 'no exit status' : `exit ${r.code}`}${r.stderr ? `: ${r.stderr.slice(0, 200)}` : ''})`;
      await sleep(Math.min(500, Math.max(0, deadline - Date.now())));
    }
    return { ok: false, detail, afterMs: null };
  }

  async set(p: Params<'wlan.set'>): Promise<Result<'wlan.set'>> {
    if (Buffer.byteLength(p.ssid, 'utf8') > 32) throw new TowerError('WlanFailed', 'an SSID has at most 32 bytes');
    const s = this.router();
    if (this.busy) throw new TowerError('WlanFailed', `a Wi-Fi change of ${ROUTER} is already running`);
    this.busy = true;
    try {
      const { confPath } = this.core.settings().wlan;
      const t0 = Date.now();
      const log = this.core.log.child({ host: ROUTER });
      const applied = await this.rootScript(s, APPLY_SCRIPT, [confPath], `writing ${confPath}`, wpaConf(p.ssid, p.psk));
      if (!/^tower-wlan-apply prev=(saved|kept|none)$/m.test(applied)) throw new TowerError('WlanFailed', `writing ${confPath} on ${ROUTER} did not report back`);
      log.info({ ssid: p.ssid, open: p.psk === null, confPath }, 'Wi-Fi settings written; restarting Wi-Fi');
      const started = Date.now();
      const deadline = started + p.timeoutS * 1000;
      const restartError = await this.restart(s);
      testCrashSeam('wlan-restarted');
      const uplink = restartError ? { ok: false, detail: restartError, afterMs: null } : await this.waitUplink(s, started, deadline);
      if (uplink.ok) {
        await this.rootScript(s, COMMIT_SCRIPT, [confPath], `removing ${confPath}.tower-prev`);
        log.info({ ssid: p.ssid, afterMs: uplink.afterMs }, 'Wi-Fi change proven: the router has a way out');
        return { host: ROUTER, ssid: p.ssid, ok: true, rolledBack: false, uplink, uplinkAfterRollback: null, message: `${ROUTER} is on ${p.ssid} and has a way out (${uplink.afterMs} ms after the restart)`, durationMs: Date.now() - t0 };
      }
      log.warn({ ssid: p.ssid, reason: uplink.detail }, 'no way out after the Wi-Fi change; putting the previous settings back');
      const after = await this.rollBack(s, p.timeoutS);
      const message =
        `no way out on ${p.ssid} within ${p.timeoutS} s (${uplink.detail}); the previous settings are back` +
        (after.ok ? ` and ${ROUTER} has its way out again` : `, but ${ROUTER} still has no way out (${after.detail})`);
      return { host: ROUTER, ssid: p.ssid, ok: false, rolledBack: true, uplink, uplinkAfterRollback: after, message, durationMs: Date.now() - t0 };
    } finally {
      this.busy = false;
    }
  }

  /** The previous file back, Wi-Fi restarted, the way out checked again for up to `timeoutS`. */
  private async rollBack(s: HostSession, timeoutS: number): Promise<UplinkCheck> {
    const { confPath } = this.core.settings().wlan;
    await this.rootScript(s, RESTORE_SCRIPT, [confPath], `putting the previous ${confPath} back`);
    const again = Date.now();
    const restartAgain = await this.restart(s);
    const after = restartAgain ? { ok: false, detail: restartAgain, afterMs: null } : await this.waitUplink(s, again, again + timeoutS * 1000);
    this.core.log.info({ host: ROUTER, uplink: after.ok, reason: after.detail }, 'previous Wi-Fi settings back');
    return after;
  }

  /**
   * The router connected: a `.tower-prev` beside its file means a change whose way out was never proven (towerd
   * stopped during the check). It gets RESUME_TIMEOUT_S to show one, as if just made; otherwise it is rolled back.
   */
  async resume(): Promise<void> {
    if (this.busy || !this.core.registry.get(ROUTER)) return;
    this.busy = true;
    try {
      const s = this.core.connected(ROUTER);
      const { confPath } = this.core.settings().wlan;
      const r = await runCaptured(s, this.root(['sh', '-c', 'if [ -e "$1.tower-prev" ]; then echo tower-wlan-pending; fi', 'sh', confPath]), 20_000, 4096);
      if (!/^tower-wlan-pending$/m.test(r.stdout)) return;
      this.core.log.warn({ host: ROUTER, confPath }, 'an unproven Wi-Fi change is on the router; checking its way out');
      const started = Date.now();
      const up = await this.waitUplink(s, started, started + RESUME_TIMEOUT_S * 1000);
      if (up.ok) {
        await this.rootScript(s, COMMIT_SCRIPT, [confPath], `removing ${confPath}.tower-prev`);
        this.core.log.info({ host: ROUTER }, 'the unproven Wi-Fi change has its way out: kept');
      } else {
        this.core.log.warn({ host: ROUTER, reason: up.detail }, 'the unproven Wi-Fi change has no way out; putting the previous settings back');
        await this.rollBack(s, RESUME_TIMEOUT_S);
      }
    } finally {
      this.busy = false;
    }
  }

  async status(): Promise<WlanStatus> {
    const s = this.router();
    const { interface: iface, confPath, wpaCli } = this.core.settings().wlan;
    const r = await runCaptured(s, this.root(['sh', '-c', STATUS_SCRIPT, 'sh', iface, confPath, ...wpaCli]), 20_000, 64 * 1024);
    if (!r.stdout.includes('--prev')) throw new TowerError('WlanFailed', `the Wi-Fi status of ${ROUTER} did not come back (${r.code === null ? 'no exit status' : `exit ${r.code}`}${r.stderr ? `: ${r.stderr.slice(0, 300)}` : ''})`);
    const parts = splitStatus(r.stdout);
    return { host: ROUTER, interface: iface, ...parseLink(parts.status, parts.signal, parts.wireless, iface), unproven: parts.prev };
  }
}
