#!/usr/bin/env bash
# CI: the README's `npm run demo`, as a new user runs it: in a fresh `git clone` of this checkout (committed files
# only, no node_modules, no dist), so that the demo's own installation is what gets tested. Fails when the demo
# fails, takes more than DEMO_MAX_SECONDS (default 60) after installing, saves a blank screenshot, or leaves
# anything behind: a process (the demo runs in a cgroup of its own, which must be empty afterwards, orphans and
# processes inside the lab's PID namespaces included), a network namespace or mount of its lab, its state folder,
# its temporary folders (tower-* in the TMPDIR it gets).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
max=${DEMO_MAX_SECONDS:-60}
tmp=$(mktemp -d /tmp/tower-ci-demo.XXXXXX)
prefix="twlci$(($$ % 100000))"
problems=()

# a cgroup for the demo and everything it starts: cgroup v2 (unified) when there is one, else v1's pids controller
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then cgbase=/sys/fs/cgroup
elif [ -d /sys/fs/cgroup/unified ]; then cgbase=/sys/fs/cgroup/unified
else cgbase=/sys/fs/cgroup/pids
fi
cg="$cgbase/tower-ci-demo-$$"
mkdir "$cg" || { echo "ci-demo: cannot create the cgroup $cg" >&2; exit 1; }

# the processes in the demo's cgroup (cgroup.procs always has size 0: read it)
procs() { cat "$cg/cgroup.procs" 2>/dev/null; }

cleanup() {
  # whatever the demo left: kill it (only processes of this cgroup, i.e. started by this script), then its lab
  local left
  left=$(procs)
  if [ -n "$left" ]; then
    # shellcheck disable=SC2086 # one pid a word
    kill -KILL $left 2>/dev/null
    for _ in $(seq 20); do [ -n "$(procs)" ] || break; sleep 0.1; done
  fi
  rmdir "$cg" 2>/dev/null || echo "ci-demo: cannot remove the cgroup $cg" >&2
  if [ -x "$tmp/tower/node_modules/.bin/tsx" ]; then (cd "$tmp/tower" && node_modules/.bin/tsx test/lab/cli.ts down --prefix "$prefix" >/dev/null 2>&1); fi
  rm -rf "$tmp"
}
trap cleanup EXIT

git clone --quiet --no-hardlinks "$PWD" "$tmp/tower" || { echo "ci-demo: git clone failed" >&2; exit 1; }
[ -z "$(git status --porcelain --untracked-files=no)" ] || echo "ci-demo: note: uncommitted changes of the checkout are not in the clone"
[ ! -e "$tmp/tower/node_modules" ] || { echo "ci-demo: the clone has node_modules" >&2; exit 1; }
echo "fresh clone of $(git rev-parse --short HEAD) in $tmp/tower (no node_modules); lab prefix $prefix"

start=$(date +%s.%N)
(
  echo "$BASHPID" >"$cg/cgroup.procs" || exit 99
  # like /tmp: the lab's login user runs sway in a folder there
  chmod 0711 "$tmp" && mkdir -m 1777 "$tmp/tmpdir" && export TMPDIR="$tmp/tmpdir"
  cd "$tmp/tower" && exec npm run demo -- --prefix "$prefix" --screenshot "$tmp/screen.png"
) 2>&1 | tee "$tmp/demo.log"
status=${PIPESTATUS[0]}
end=$(date +%s.%N)
echo "npm run demo: exit $status after $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s in all (installation, build and demo)"
[ "$status" -eq 0 ] || problems+=("npm run demo exited with $status")

demo_s=$(sed -n 's/.*done in \([0-9.]*\) s.*/\1/p' "$tmp/demo.log" | tail -n 1)
if [ -z "$demo_s" ]; then problems+=("the demo did not finish")
elif awk -v s="$demo_s" -v m="$max" 'BEGIN { exit !(s > m) }'; then problems+=("the demo took $demo_s s, more than $max s")
else echo "demo: $demo_s s after installation (limit $max s)"
fi

if [ -f "$tmp/screen.png" ]; then
  (cd "$tmp/tower" && node_modules/.bin/tsx test/lab/demo.ts --screenshot-check "$tmp/screen.png") || problems+=("the screenshot does not show the app")
else problems+=("no screenshot at $tmp/screen.png")
fi

# left behind? give exiting processes a moment first
for _ in $(seq 20); do [ -n "$(procs)" ] || break; sleep 0.25; done
if [ -n "$(procs)" ]; then
  problems+=("processes left: $(procs | xargs -r ps -o pid=,args= -p | tr '\n' ';')")
fi
ns=$(ip netns list | awk -v p="$prefix-" 'index($1, p) == 1 { print $1 }' | tr '\n' ' ')
[ -z "$ns" ] || problems+=("network namespaces left: $ns")
! grep -q "tower-lab-$prefix\|/run/netns/$prefix-" /proc/self/mounts || problems+=("mounts left: $(grep "tower-lab-$prefix\|/run/netns/$prefix-" /proc/self/mounts | tr '\n' ';')")
[ ! -e "/run/tower-lab-$prefix" ] || problems+=("state folder left: /run/tower-lab-$prefix")
files=$(find "$tmp/tmpdir" -mindepth 1 -maxdepth 1 -name 'tower-*' 2>/dev/null | tr '\n' ' ')
[ -z "$files" ] || problems+=("temporary files left in TMPDIR: $files")

if [ ${#problems[@]} -gt 0 ]; then
  printf 'ci-demo: %s\n' "${problems[@]}" >&2
  exit 1
fi
echo "demo from a fresh clone: OK, nothing left behind (cgroup empty, no $prefix-* namespace or mount)"
