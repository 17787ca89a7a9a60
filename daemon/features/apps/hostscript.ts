// The host side of an app: POSIX sh run through `sh -c SCRIPT NAME ARGS...`, so every value is an argument and
// nothing is interpolated into the script. Needs Xvnc (TigerVNC), xauth, flock, setsid, openbox, xprop and xdotool
// on the host, all of them in Alpine 3.19 (README, "Host packages"). Written for busybox ash and applets as much as
// for bash and GNU tools.
import * as z from 'zod/mini';

/** Where apps keep their state on a host: one `0700` folder per user, one folder per app inside. */
export const HOST_BASE = '/tmp/tower-apps-$(id -u)';

/** The folder name of one app on its host: towerd's id and a random tag. */
export const DIR_NAME_RE = /^a[0-9]{1,9}-[0-9a-f]{8}$/;

/**
 * openbox's whole configuration for an app's display, written into the app's folder: no decorations, every normal
 * window maximised (and kept so when RandR resizes the screen), dialogs and other windows placed centred, one
 * desktop, no margins, and not one key or mouse binding, so the window manager grabs nothing from the app.
 */
export const OPENBOX_RC = `<?xml version="1.0" encoding="UTF-8"?>
<openbox_config xmlns="http://openbox.org/3.4/rc">
  <resistance><strength>0</strength><screen_edge_strength>0</screen_edge_strength></resistance>
  <focus><focusNew>yes</focusNew><followMouse>no</followMouse></focus>
  <placement><policy>Smart</policy><center>yes</center><monitor>Any</monitor></placement>
  <theme><keepBorder>no</keepBorder><animateIconify>no</animateIconify></theme>
  <desktops><number>1</number><firstdesk>1</firstdesk><popupTime>0</popupTime></desktops>
  <resize><drawContents>yes</drawContents><popupShow>Never</popupShow></resize>
  <margins><top>0</top><bottom>0</bottom><left>0</left><right>0</right></margins>
  <keyboard></keyboard>
  <mouse></mouse>
  <menu></menu>
  <applications>
    <application class="*"><decor>no</decor><focus>yes</focus><desktop>1</desktop></application>
    <application type="normal"><maximized>yes</maximized></application>
  </applications>
</openbox_config>`;

const BASE = `base="/tmp/tower-apps-$(id -u)"
if [ -L "$base" ] || { [ -e "$base" ] && { [ ! -d "$base" ] || [ ! -O "$base" ]; }; }; then
  echo "error=$base is not a folder of this user"; exit 3
fi`;

/**
 * Runs detached (setsid, stdio on files), holds the app folder's lock for the app's lifetime, and cleans up
 * after it. Args: DIR WIDTH HEIGHT GRACE_S TITLE PULSE ARGV...
 * The window manager is openbox with OPENBOX_RC, up once the root has `_NET_SUPPORTING_WM_CHECK` (xprop). The
 * polite close asks openbox for `_NET_CLOSE_WINDOW` on every window it manages (`_NET_CLIENT_LIST`), which it turns
 * into WM_DELETE_WINDOW: `xdotool windowquit` (xdotool 3.20210804 and later; Alpine 3.19 has 3.20211022.1), or
 * wmctrl where an older xdotool lacks it (Debian 12's 3.20160805); TERM after the grace, then KILL.
 */
export const SUPERVISOR = `dir=$1 w=$2 h=$3 grace=$4 title=$5 pulse=$6
shift 6
cd "$dir" || exit 1
exec 9>"$dir/lock"
flock -n 9 || { echo "the app folder is locked" >&2; exit 1; }
echo $$ >"$dir/supervisor.pid"
xvnc='' wm='' app='' closer=''
finish() {
  printf '%s\\n' "$1" >"$dir/status.tmp" && mv "$dir/status.tmp" "$dir/status"
  [ -n "$closer" ] && kill "$closer" 2>/dev/null
  [ -n "$wm" ] && kill "$wm" 2>/dev/null
  [ -n "$xvnc" ] && kill "$xvnc" 2>/dev/null
  trap '' TERM
  kill -TERM -$$ 2>/dev/null
  wait
  rm -f "$dir/vnc.sock" "$dir/Xauthority" "$dir/ready" "$dir/displayfd" "$dir/rc.xml" "$dir/supervisor.pid" "$dir/pid" "$dir/log"
  rm -rf "$dir/openbox"
  [ -e "$dir/discard" ] && rm -rf "$dir"
  exit 0
}
trap 'finish 143' TERM
trap 'finish 129' HUP
umask 077
cookie=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n')
XAUTHORITY="$dir/Xauthority"
export XAUTHORITY
xauth -q -f "$XAUTHORITY" add :0 . "$cookie" || finish 254
: >"$dir/displayfd"
Xvnc -displayfd 8 -auth "$XAUTHORITY" -rfbunixpath "$dir/vnc.sock" -rfbunixmode 0600 -rfbport -1 \\
  -SecurityTypes None -AcceptSetDesktopSize=1 -geometry "\${w}x\${h}" -depth 24 -nolisten tcp -desktop "$title" \\
  8>"$dir/displayfd" 9>&- </dev/null &
xvnc=$!
i=0
while ! grep -q '[0-9]' "$dir/displayfd" 2>/dev/null; do
  kill -0 "$xvnc" 2>/dev/null || { xvnc=''; finish 254; }
  i=$((i + 1)); [ $i -gt 400 ] && finish 254
  sleep 0.025
done
DISPLAY=":$(tr -dc 0-9 <"$dir/displayfd")"
export DISPLAY
xauth -q -f "$XAUTHORITY" add "$DISPLAY" . "$cookie" || finish 254
cat >"$dir/rc.xml" <<'TOWER_RC'
${OPENBOX_RC}
TOWER_RC
XDG_CACHE_HOME="$dir" openbox --sm-disable --config-file "$dir/rc.xml" 9>&- </dev/null &
wm=$!
i=0
while ! xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null | grep -q 'window id'; do
  kill -0 "$wm" 2>/dev/null || { wm=''; finish 253; }
  i=$((i + 1)); [ $i -gt 400 ] && finish 253
  sleep 0.025
done
if [ -n "$pulse" ]; then PULSE_SERVER=$pulse; export PULSE_SERVER; fi
"$@" 9>&- </dev/null &
app=$!
echo "$app" >"$dir/pid"
printf 'display=%s\\npid=%s\\n' "$DISPLAY" "$app" >"$dir/ready.tmp" && mv "$dir/ready.tmp" "$dir/ready"
close_app() {
  [ -n "$closer" ] && return
  (
    for win in $(xprop -root _NET_CLIENT_LIST 2>/dev/null | sed -n 's/^[^#]*#//p' | tr ',' ' '); do
      case $win in 0x*) ;; *) continue ;; esac
      xdotool windowquit "$win" 2>/dev/null || wmctrl -i -c "$win" 2>/dev/null
    done
    sleep "$grace"
    kill -TERM "$app" 2>/dev/null || exit 0
    sleep "$grace"
    kill -KILL "$app" 2>/dev/null
  ) 9>&- &
  closer=$!
}
trap close_app USR1
while :; do
  wait "$app"
  st=$?
  if [ "$st" -gt 128 ] && kill -0 "$app" 2>/dev/null; then continue; fi
  break
done
finish "$st"`;

/**
 * Starts the supervisor detached and returns as soon as the app runs (its display and pid on stdout).
 * Args: SUPERVISOR NAME WIDTH HEIGHT GRACE_S TITLE PULSE -- ARGV...
 */
export const LAUNCH = `sup=$1 name=$2 w=$3 h=$4 grace=$5 title=$6 pulse=$7
shift 8
${BASE}
case $name in */* | .* | '') echo "error=bad app folder name"; exit 2 ;; esac
for t in Xvnc xauth flock setsid openbox xprop xdotool od; do
  command -v "$t" >/dev/null 2>&1 || { echo "error=$t is not installed on $(hostname)"; exit 4; }
done
command -v "$1" >/dev/null 2>&1 || { echo "error=$1: command not found on $(hostname)"; exit 4; }
umask 077
mkdir -p "$base" && chmod 700 "$base" || { echo "error=cannot create $base"; exit 3; }
dir="$base/$name"
mkdir "$dir" || { echo "error=cannot create $dir"; exit 3; }
date +%s >"$dir/started"
setsid sh -c "$sup" tower-app "$dir" "$w" "$h" "$grace" "$title" "$pulse" "$@" </dev/null >"$dir/log" 2>&1 &
i=0
while [ ! -s "$dir/ready" ]; do
  if [ -s "$dir/status" ]; then
    echo "error=the app's display did not start: $(tr '\\n' ' ' <"$dir/log" 2>/dev/null | tail -c 600)"
    rm -rf "$dir"; exit 5
  fi
  i=$((i + 1))
  if [ $i -gt 600 ]; then
    kill -TERM "$(cat "$dir/supervisor.pid" 2>/dev/null)" 2>/dev/null
    echo "error=the app's display did not start within 15 s"; exit 6
  fi
  sleep 0.025
done
echo "dir=$dir"
cat "$dir/ready"`;

/**
 * What towerd asks later. Args: ACTION [NAME]. Actions: list (every app folder, one line each), close NAME (polite
 * close: the supervisor has openbox send WM_DELETE_WINDOW, then TERM), clean NAME (remove the folder of an app that
 * ended).
 * resize NAME W H: the app's screen to W×H at once (RandR; the window manager re-maximizes the app).
 * discard NAME: the same for an app no towerd knows, whose folder then goes entirely.
 * A line: name, state (running|exited|dead), exit status or -, display or -, pid or -, start time (epoch s) or -.
 */
export const CONTROL = `action=$1 name=\${2:-}
${BASE}
[ -d "$base" ] || exit 0
state_of() {
  d=$1
  if [ -s "$d/status" ]; then echo exited
  elif [ -e "$d/lock" ] && ! flock -n "$d/lock" true 2>/dev/null; then echo running
  else echo dead
  fi
}
field() { if [ -s "$1" ]; then tr -d '\\n\\t ' <"$1" | cut -c1-40; else printf -; fi; }
line() {
  d=$1
  disp=-
  [ -s "$d/ready" ] && disp=$(sed -n 's/^display=//p' "$d/ready" | tr -d '\\t ' | cut -c1-40)
  printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "\${d##*/}" "$(state_of "$d")" "$(field "$d/status")" "\${disp:--}" "$(field "$d/pid")" "$(field "$d/started")"
}
case $name in */* | .*) exit 2 ;; esac
case $action in
list)
  for d in "$base"/*; do [ -d "$d" ] && line "$d"; done ;;
close | discard)
  d="$base/$name"
  [ -d "$d" ] || exit 0
  [ "$action" = discard ] && : >"$d/discard"
  if [ "$(state_of "$d")" = running ]; then kill -USR1 "$(cat "$d/supervisor.pid")" 2>/dev/null; fi
  line "$d" ;;
resize)
  d="$base/$name"
  w=\${3:-} h=\${4:-}
  case $w$h in '' | *[!0-9]*) exit 2 ;; esac
  [ "$(state_of "$d")" = running ] || exit 0
  DISPLAY=$(sed -n 's/^display=//p' "$d/ready") XAUTHORITY="$d/Xauthority"
  export DISPLAY XAUTHORITY
  out=$(xrandr | awk '/ connected/ { print $1; exit }')
  m="\${w}x\${h}"
  xrandr --newmode "$m" 0 "$w" 0 0 0 "$h" 0 0 0 2>/dev/null
  xrandr --addmode "$out" "$m" 2>/dev/null
  xrandr --fb "$m" --output "$out" --mode "$m" ;;
clean)
  d="$base/$name"
  [ -d "$d" ] || exit 0
  if [ "$(state_of "$d")" != running ]; then rm -rf "$d"; fi ;;
*) exit 2 ;;
esac
exit 0`;

const Dash = <T extends z.ZodMiniType>(t: T) => z.union([z.literal('-'), t]);

/** One line of CONTROL's output, parsed: the host's word is never taken on trust. */
export const HostAppLine = z.object({
  name: z.string().check(z.regex(DIR_NAME_RE)),
  state: z.enum(['running', 'exited', 'dead']),
  status: Dash(z.string().check(z.regex(/^[0-9]{1,3}$/))),
  display: Dash(z.string().check(z.regex(/^:[0-9]{1,5}$/))),
  pid: Dash(z.string().check(z.regex(/^[0-9]{1,10}$/))),
  started: Dash(z.string().check(z.regex(/^[0-9]{1,12}$/))),
});
export type HostAppLine = z.infer<typeof HostAppLine>;

export function parseHostApps(stdout: string): HostAppLine[] {
  const out: HostAppLine[] = [];
  for (const l of stdout.split('\n')) {
    if (!l) continue;
    const [name, state, status, display, pid, started] = l.split('\t');
    const r = HostAppLine.safeParse({ name, state, status, display, pid, started });
    if (r.success) out.push(r.data);
  }
  return out;
}

export const LaunchResult = z.object({
  dir: z.string().check(z.regex(/^\/tmp\/tower-apps-[0-9]{1,10}\/a[0-9]{1,9}-[0-9a-f]{8}$/)),
  display: z.string().check(z.regex(/^:[0-9]{1,5}$/)),
  pid: z.coerce.number().check(z.int(), z.gte(1)),
});
export type LaunchResult = z.infer<typeof LaunchResult>;

/** LAUNCH's output: `key=value` lines, or an `error=` line. */
export function parseLaunch(stdout: string): { ok: true; value: LaunchResult } | { ok: false; error: string } {
  const kv: Record<string, string> = {};
  for (const l of stdout.split('\n')) {
    const i = l.indexOf('=');
    if (i > 0) kv[l.slice(0, i)] = l.slice(i + 1);
  }
  if (kv.error !== undefined) return { ok: false, error: kv.error.slice(0, 1000) };
  const r = LaunchResult.safeParse(kv);
  return r.success ? { ok: true, value: r.data } : { ok: false, error: 'the host gave an unexpected answer when starting the app' };
}
