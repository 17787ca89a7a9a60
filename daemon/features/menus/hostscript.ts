// The one host command that reads a host's desktop entries and their icons (busybox sh), and the parser of what it
// prints. Everything it prints is untrusted: the parser checks each header and reads exactly the announced bytes.

/**
 * Arguments: FILE_CAP ICON_CAP HOST_CAP MAX_FILES APPDIR... -- ICONDIR... (`~/` = the login user's home).
 * Each folder is resolved with `readlink -f`; a `*.desktop` in one of them whose real path (`readlink -f`) is not
 * inside one of them (a symlink to /etc/shadow), is not a regular file, has an unsafe name or is over the cap is
 * refused with a line `R REASON NAME`. Accepted files are copied into a private temporary folder first (`head -c`
 * CAP+1) so that the length header is the length of exactly the bytes that follow: `F SIZE NAME`, the bytes, a
 * newline. The first `Icon=` line of each names an icon: a bare name is looked up as NAME.svg and NAME.png in each
 * icon folder's scalable/apps, NxN/apps and top level; an absolute path must resolve inside an icon folder.
 * `I SIZE EXT ICON`, the bytes, a newline. A file earlier in the folder order hides one of the same name later.
 * The whole output stays under HOST_CAP bytes of content; the last line is `END N`.
 */
// written with $< for ${ (a template literal would read ${ as its own)
export const MENU_SCRIPT = String.raw`
set -u
FCAP=$1 ICAP=$2 BUDGET=$3 MAXF=$4
shift 4
nl='
'
tmp=$(mktemp -d) || exit 70
trap 'rm -rf "$tmp"' EXIT
trap 'rm -rf "$tmp"; exit 1' HUP INT TERM PIPE
home() { case "$1" in '~/'*) printf '%s/%s' "$HOME" "$<1#??}" ;; *) printf '%s' "$1" ;; esac; }
adirs=''
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  d=$(readlink -f "$(home "$1")" 2>/dev/null) && [ -n "$d" ] && [ -d "$d" ] && adirs="$adirs$d$nl"
  shift
done
[ $# -gt 0 ] && shift
idirs=''
for x in "$@"; do
  d=$(readlink -f "$(home "$x")" 2>/dev/null) && [ -n "$d" ] && [ -d "$d" ] && idirs="$idirs$d$nl"
done
IFS=$nl
set -f
inside() { p=$1; shift; for q in "$@"; do case "$p" in "$q"/*) return 0 ;; esac; done; return 1; }
grab() { head -c $(( $2 + 1 )) "$1" >"$tmp/x" 2>/dev/null || return 1; wc -c <"$tmp/x" | tr -d ' '; }
total=0 n=0 seen=/ iseen="$nl"
echo 'TOWER-MENUS 1'
icon() {
  i=$1
  [ "$<#i}" -gt 1024 ] && { echo "R icon-name -"; return; }
  case "$iseen" in *"$nl$i$nl"*) return ;; esac
  iseen="$iseen$i$nl"
  c=''
  case "$i" in
    /*) c=$(readlink -f "$i" 2>/dev/null) || { echo "R icon-missing $i"; return; } ;;
    *[!A-Za-z0-9._+-]*|.*) echo "R icon-name $i"; return ;;
    *)
      set +f
      for D2 in $idirs; do
        for F2 in "$D2/scalable/apps/$i.svg" "$D2"/512x512/apps/"$i.png" "$D2"/256x256/apps/"$i.png" "$D2"/128x128/apps/"$i.png" "$D2"/96x96/apps/"$i.png" "$D2"/64x64/apps/"$i.png" "$D2"/48x48/apps/"$i.png" "$D2"/32x32/apps/"$i.png" "$D2/$i.svg" "$D2/$i.png"; do
          [ -e "$F2" ] && { c=$(readlink -f "$F2" 2>/dev/null); break 2; }
        done
      done
      set -f
      [ -n "$c" ] || { echo "R icon-missing $i"; return; }
      ;;
  esac
  inside "$c" $idirs || { echo "R icon-outside $i"; return; }
  [ -f "$c" ] || { echo "R icon-notfile $i"; return; }
  case "$c" in *.png) e=png ;; *.svg) e=svg ;; *) echo "R icon-type $i"; return ;; esac
  S2=$(grab "$c" "$ICAP") || { echo "R icon-unreadable $i"; return; }
  [ "$S2" -gt "$ICAP" ] && { echo "R icon-size $i"; return; }
  [ $((total + S2)) -gt "$BUDGET" ] && { echo "R icon-budget $i"; return; }
  total=$((total + S2))
  echo "I $S2 $e $i"
  cat "$tmp/x"
  echo
}
for d in $adirs; do
  set +f
  list=$(for f in "$d"/*.desktop; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\n' "$f"; done)
  set -f
  for f in $list; do
    b=$<f##*/}
    case "$b" in *[!A-Za-z0-9._+-]*|[!A-Za-z0-9]*) echo "R name -"; continue ;; esac
    [ "$<#b}" -gt 208 ] && { echo "R name -"; continue; }
    case "$seen" in *"/$b/"*) continue ;; esac
    seen="$seen$b/"
    [ "$n" -ge "$MAXF" ] && { echo "R count $b"; continue; }
    r=$(readlink -f "$f" 2>/dev/null) || { echo "R dangling $b"; continue; }
    inside "$r" $adirs || { echo "R outside $b"; continue; }
    [ -f "$r" ] || { echo "R notfile $b"; continue; }
    s=$(grab "$r" "$FCAP") || { echo "R unreadable $b"; continue; }
    [ "$s" -gt "$FCAP" ] && { echo "R size $b"; continue; }
    [ $((total + s)) -gt "$BUDGET" ] && { echo "R budget $b"; continue; }
    total=$((total + s)) n=$((n + 1))
    echo "F $s $d $b"
    cat "$tmp/x"
    echo
    ic=$(sed -n 's/^Icon[ 	]*=[ 	]*//p' "$tmp/x" | head -n 1 | tr -d '\r')
    [ -n "$ic" ] && icon "$ic"
  done
done
echo "END $n"
`.replaceAll('$<', '${');

export function menuScriptArgv(opts: { fileCap: number; iconCap: number; hostCap: number; maxFiles: number; appDirs: string[]; iconDirs: string[] }): string[] {
  return ['sh', '-c', MENU_SCRIPT, 'sh', String(opts.fileCap), String(opts.iconCap), String(opts.hostCap), String(opts.maxFiles), ...opts.appDirs, '--', ...opts.iconDirs];
}

export interface HostFile {
  /** the folder on the host (resolved) */
  dir: string;
  name: string;
  data: Buffer;
}
export interface HostIcon {
  key: string;
  ext: 'png' | 'svg';
  data: Buffer;
}
export interface ScriptOutput {
  files: HostFile[];
  icons: Map<string, HostIcon>;
  refused: { reason: string; name: string }[];
}

export class ScriptOutputError extends Error {}

/** Parse the script's output; sizes are checked against the caps again here, and anything malformed is an error. */
export function parseScriptOutput(out: Buffer, caps: { fileCap: number; iconCap: number; hostCap: number; maxFiles: number }): ScriptOutput {
  const res: ScriptOutput = { files: [], icons: new Map(), refused: [] };
  let pos = 0;
  let total = 0;
  const line = (): string => {
    const end = out.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 4200) throw new ScriptOutputError('a header line is missing or too long');
    const l = out.subarray(pos, end).toString('utf8');
    pos = end + 1;
    return l;
  };
  const body = (size: number): Buffer => {
    if (pos + size + 1 > out.length || out[pos + size] !== 0x0a) throw new ScriptOutputError('a file is shorter than its header says');
    const b = Buffer.from(out.subarray(pos, pos + size));
    pos += size + 1;
    total += size;
    if (total > caps.hostCap) throw new ScriptOutputError(`more than ${caps.hostCap} bytes of entries and icons`);
    return b;
  };
  if (line() !== 'TOWER-MENUS 1') throw new ScriptOutputError('not the menu script’s output');
  for (;;) {
    const l = line();
    let m: RegExpExecArray | null;
    if ((m = /^END (\d{1,6})$/.exec(l))) {
      if (Number(m[1]) !== res.files.length) throw new ScriptOutputError('the file count does not match');
      if (pos !== out.length) throw new ScriptOutputError('output after the end');
      return res;
    } else if ((m = /^F (\d{1,8}) (\/[^\n]{0,1024}) ([A-Za-z0-9][A-Za-z0-9._+-]{0,199}\.desktop)$/.exec(l))) {
      const size = Number(m[1]);
      if (size > caps.fileCap) throw new ScriptOutputError(`${m[3]} is over the cap`);
      if (res.files.length >= caps.maxFiles) throw new ScriptOutputError('more files than menus.maxApps');
      res.files.push({ dir: m[2]!, name: m[3]!, data: body(size) });
    } else if ((m = /^I (\d{1,8}) (png|svg) ([^\n]{1,1024})$/.exec(l))) {
      const size = Number(m[1]);
      if (size > caps.iconCap) throw new ScriptOutputError(`the icon ${m[3]} is over the cap`);
      res.icons.set(m[3]!, { key: m[3]!, ext: m[2] as 'png' | 'svg', data: body(size) });
    } else if ((m = /^R ([a-z-]{1,20}) ([^\n]{1,1024})$/.exec(l))) {
      if (res.refused.length < 10_000) res.refused.push({ reason: m[1]!, name: m[2]! });
    } else throw new ScriptOutputError(`an unexpected line: ${JSON.stringify(l.slice(0, 80))}`);
  }
}
