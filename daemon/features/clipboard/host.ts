// A host's X clipboards through real xclip over the host's supervised connection.
import { runCaptured, runChannel } from '../../core/exec/run.js';
import type { HostSession } from '../../core/ssh/session.js';

/** DISPLAY plus, for displays towerd's apps own, their XAUTHORITY. */
export interface HostDisplay {
  display: string;
  xauthority?: string | undefined;
}

function withXauth(d: HostDisplay, argv: string[]): string[] {
  return d.xauthority ? ['env', `XAUTHORITY=${d.xauthority}`, ...argv] : argv;
}

export type HostRead = { ok: true; data: Buffer } | { ok: false; empty: true } | { ok: false; empty: false; size: number };

/** The CLIPBOARD selection of one display as UTF-8 text (`xclip -o`); over `maxBytes` is counted, not kept. */
export async function readHostClipboard(s: HostSession, d: HostDisplay, maxBytes: number): Promise<HostRead> {
  const r = await runChannel(s, withXauth(d, ['xclip', '-o', '-selection', 'clipboard', '-target', 'UTF8_STRING', '-display', d.display]), {
    maxBytes,
    countUpTo: maxBytes * 16,
    timeoutMs: 10_000,
  });
  if (r.size > maxBytes) return { ok: false, empty: false, size: r.size };
  if (r.code !== 0) {
    // xclip says "target UTF8_STRING not available" when nothing (or no text) is in the clipboard
    if (/not available|no selection|none/i.test(r.stderr) || r.code === 1) {
      if (/can.t open display/i.test(r.stderr)) throw new Error(`xclip on ${s.host.name} cannot open display ${d.display}`);
      return { ok: false, empty: true };
    }
    throw new Error(`xclip on ${s.host.name} failed for ${d.display}: ${r.stderr || `exit ${r.code ?? 'unknown'}`}`);
  }
  if (r.size === 0) return { ok: false, empty: true };
  return { ok: true, data: r.stdout };
}

/**
 * One command for `clip copy`: the display (the given one, else the most recently started X display of the host)
 * on the first line, then its CLIPBOARD as UTF-8 text. Exit 3: no display.
 */
export const READ_SCRIPT = [
  'd=$1',
  'if [ -z "$d" ]; then d=$(ls -t /tmp/.X11-unix 2>/dev/null | sed -n "s/^X\\([0-9][0-9]*\\)$/:\\1/p" | head -n 1); fi',
  '[ -n "$d" ] || exit 3',
  'printf "%s\\n" "$d"',
  'exec xclip -o -selection clipboard -target UTF8_STRING -display "$d"',
].join('\n');

/** The clipboard of `d`, or of the host's most recent X display when `d` is undefined; undefined: no display. */
export async function readFocusedClipboard(s: HostSession, d: HostDisplay | undefined, maxBytes: number): Promise<{ display: string; read: HostRead } | undefined> {
  const argv = ['sh', '-c', READ_SCRIPT, 'sh', d?.display ?? ''];
  const r = await runChannel(s, d ? withXauth(d, argv) : argv, { maxBytes: maxBytes + 64, countUpTo: maxBytes * 16, timeoutMs: 10_000 });
  if (r.code === 3) return undefined;
  const nl = r.stdout.indexOf(10);
  const display = nl > 0 ? r.stdout.subarray(0, nl).toString('utf8') : '';
  if (!/^:\d{1,4}(\.\d{1,2})?$/.test(display)) throw new Error(`cannot read the clipboard on ${s.host.name}: ${r.stderr || `exit ${r.code ?? 'unknown'}`}`);
  const size = r.size - nl - 1;
  if (size > maxBytes) return { display, read: { ok: false, empty: false, size } };
  if (r.code !== 0) {
    if (r.code === 127 || r.code === 126) throw new Error(`xclip cannot run on ${s.host.name}: ${r.stderr || `exit ${r.code}`}; towerctl host setup ${s.host.name} installs it`);
    if (/can.t open display/i.test(r.stderr)) throw new Error(`xclip on ${s.host.name} cannot open display ${display}`);
    return { display, read: { ok: false, empty: true } };
  }
  const data = r.stdout.subarray(nl + 1);
  return { display, read: data.length ? { ok: true, data } : { ok: false, empty: true } };
}

/**
 * Make `text` the CLIPBOARD selection of one display (`xclip -i`). xclip forks a selection owner that keeps its
 * stdout and stderr: both go to /dev/null, or the SSH channel (and its session slot) would stay open for as long as
 * that owner lives.
 */
export async function writeHostClipboard(s: HostSession, d: HostDisplay, text: Buffer): Promise<void> {
  const script = 'xclip -i -selection clipboard -display "$1" >/dev/null 2>&1';
  const r = await runChannel(s, withXauth(d, ['sh', '-c', script, 'sh', d.display]), { input: text, timeoutMs: 10_000 });
  if (r.code === 127) throw new Error(`xclip is not installed on ${s.host.name}; towerctl host setup ${s.host.name} installs it`);
  if (r.code !== 0) throw new Error(`xclip on ${s.host.name} could not set the clipboard of ${d.display} (exit ${r.code ?? 'unknown'}; is the display running?)`);
}

/** X displays on the host with a socket in /tmp/.X11-unix, most recently started first. */
export async function discoverDisplays(s: HostSession): Promise<string[]> {
  let r = await runCaptured(s, ['ls', '-t', '/tmp/.X11-unix'], 5000, 64 * 1024);
  // a listing that ends without an exit status (ssh2 now and then) is tried once more
  if (r.code === null) r = await runCaptured(s, ['ls', '-t', '/tmp/.X11-unix'], 5000, 64 * 1024);
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => /^X(\d{1,4})$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `:${m[1]}`);
}

/**
 * `auto` mode's watcher on a host: polls the CLIPBOARD of each display (those given as `:N` or `:N=XAUTHORITY`,
 * or every socket in /tmp/.X11-unix when none is given) every INTERVAL seconds and prints the display's name when
 * its content changed. Only checksums are kept, in the shell's memory. One long-lived session per host in auto
 * mode; it ends with the connection or when towerd closes it (its empty heartbeat line then fails: SIGPIPE).
 */
export const WATCH_SCRIPT = [
  'interval=$1; shift',
  'first=1',
  'while :; do',
  '  if [ $# -gt 0 ]; then list="$*"; else list=$(ls /tmp/.X11-unix 2>/dev/null | sed -n "s/^X\\([0-9][0-9]*\\)$/:\\1/p"); fi',
  '  for d in $list; do',
  '    disp=${d%%=*}; xa=${d#*=}; [ "$xa" = "$d" ] && xa=',
  '    n=$(printf %s "$disp" | tr -c 0-9 _)',
  '    if [ -n "$xa" ]; then sum=$(XAUTHORITY=$xa xclip -o -selection clipboard -target UTF8_STRING -display "$disp" 2>/dev/null | cksum)',
  '    else sum=$(xclip -o -selection clipboard -target UTF8_STRING -display "$disp" 2>/dev/null | cksum); fi',
  '    eval "old=\\${s_$n-unset}"',
  '    if [ "$sum" != "$old" ]; then',
  '      eval "s_$n=\\$sum"',
  '      [ "$first" = 0 ] && echo "$disp"',
  '    fi',
  '  done',
  '  first=0',
  // a heartbeat: once towerd closes the channel or the connection is gone, this write fails and the loop ends
  '  echo || exit 0',
  '  sleep "$interval"',
  'done',
].join('\n');
