// The host side of a key rotation: one rewrite of the login user's ~/.ssh/authorized_keys.

/** The base64 blob of a `ssh-ed25519 BLOB comment` line: what identifies a key in authorized_keys. */
export function keyBlob(line: string): string {
  const blob = line.trim().split(/\s+/)[1];
  if (!blob || !/^[A-Za-z0-9+/=]+$/.test(blob)) throw new Error('not an ssh-ed25519 public key line');
  return blob;
}

/**
 * Rewrites ~/.ssh/authorized_keys (busybox sh and awk) so that it holds the key `$1` (the line, added at the end when
 * no line has its blob `$2`; further lines with that blob are dropped) and no line with the blob `$3` (empty: remove
 * nothing). Every other line stays as it was, in order. The new content goes to a temporary file beside it, then
 * mv: sshd sees the old file or the new one, never half of one. Reads the result back and prints one line:
 * `tower-authorized-keys added=A removed=R kept=K has=H stale=S` (H: lines with `$2` now, S: lines with `$3`).
 */
export const REWRITE_SCRIPT = `set -eu
add=$1 addblob=$2 rmblob=$3
d="$HOME/.ssh"
f="$d/authorized_keys"
umask 077
[ -d "$d" ] || mkdir -m 700 "$d"
[ -f "$f" ] || : >"$f"
tmp="$d/.authorized_keys.tower.$$"
trap 'rm -f "$tmp"' EXIT
counts=$(awk -v add="$add" -v addblob="$addblob" -v rmblob="$rmblob" -v out="$tmp" '
{ drop = 0; has = 0
  for (i = 1; i <= NF; i++) { if (rmblob != "" && $i == rmblob) drop = 1; if ($i == addblob) has = 1 }
  if (drop) { removed++; next }
  if (has) { if (seen) { removed++; next }; seen = 1 }
  print > out; kept++ }
END {
  if (!seen) { print add > out; added = 1 }
  close(out)
  printf "added=%d removed=%d kept=%d", added, removed, kept
}' "$f")
chmod 600 "$tmp"
mv -f "$tmp" "$f"
trap - EXIT
sync
check=$(awk -v addblob="$addblob" -v rmblob="$rmblob" '
{ for (i = 1; i <= NF; i++) { if ($i == addblob) { has++; break } }
  for (i = 1; i <= NF; i++) { if (rmblob != "" && $i == rmblob) { stale++; break } } }
END { printf "has=%d stale=%d", has, stale }' "$f")
echo "tower-authorized-keys $counts $check"
`;

export interface RewriteOutcome {
  added: number;
  removed: number;
  kept: number;
  /** lines holding the key that was to be kept (1 when it worked) */
  has: number;
  /** lines still holding the key that was to be removed (0 when it worked) */
  stale: number;
}

/** The script's report line, or undefined when its output has none (bounded: only the last 4 KiB are looked at). */
export function parseRewrite(stdout: string): RewriteOutcome | undefined {
  const m = /^tower-authorized-keys added=(\d{1,6}) removed=(\d{1,6}) kept=(\d{1,6}) has=(\d{1,6}) stale=(\d{1,6})$/m.exec(stdout.slice(-4096));
  if (!m) return undefined;
  return { added: Number(m[1]), removed: Number(m[2]), kept: Number(m[3]), has: Number(m[4]), stale: Number(m[5]) };
}

/** argv for the host: keep `keep` (a public key line), remove the key `remove` (a line or its blob; '' for none). */
export function rewriteArgv(keep: string, remove: string): string[] {
  return ['sh', '-c', REWRITE_SCRIPT, 'sh', keep.trim(), keyBlob(keep), remove ? keyBlob(remove.includes(' ') ? remove : `ssh-ed25519 ${remove}`) : ''];
}
