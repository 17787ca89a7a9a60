// How a top-level name that already exists in the target folder is renamed: `name (1).ext`, `name (2).ext`, …
// (folders and names without an extension: `name (1)`). The host does the same in RENAME_SCRIPT.

export const MAX_SUFFIX = 9999;

/** The i-th candidate for `name` (0: the name itself). The extension is what follows the last dot not at the start. */
export function suffixed(name: string, type: 'file' | 'directory', i: number): string {
  if (i === 0) return name;
  const dot = type === 'file' ? name.lastIndexOf('.') : -1;
  if (dot > 0) return `${name.slice(0, dot)} (${i})${name.slice(dot)}`;
  return `${name} (${i})`;
}

/**
 * sh (busybox ash) on the target: `sh -c RENAME_SCRIPT sh BASE SUB TMP KIND:NAME…` moves each staged top-level entry
 * from TMP into BASE/SUB under the first free candidate name, prints the names given (one a line; names have no
 * newlines, the checker refuses control characters), then removes TMP. `mv -n -T` never replaces what appeared meanwhile.
 */
export const RENAME_SCRIPT = `set -e
base=$1 sub=$2 tmp=$3; shift 3
dir=$base; [ -z "$sub" ] || dir=$base/$sub
mkdir -p -- "$dir"
for arg in "$@"; do
  kind=\${arg%%:*} n=\${arg#*:}
  stem=$n ext=
  if [ "$kind" = f ]; then
    case $n in ?*.*) stem=\${n%.*} ext=.\${n##*.} ;; esac
  fi
  t=$n i=0
  while :; do
    if [ ! -e "$dir/$t" ] && [ ! -L "$dir/$t" ]; then
      mv -n -T -- "$tmp/$n" "$dir/$t" 2>/dev/null || true
      if [ ! -e "$tmp/$n" ] && [ ! -L "$tmp/$n" ]; then break; fi
    fi
    i=$((i + 1))
    if [ "$i" -gt ${MAX_SUFFIX} ]; then echo "no free name for $n in $dir" >&2; exit 1; fi
    t="$stem ($i)$ext"
  done
  printf '%s\\n' "$t"
done
rmdir -- "$tmp"
`;
