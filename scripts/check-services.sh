#!/usr/bin/env bash
# Check the service definitions with the real tools: systemd-analyze for the unit, shellcheck for the OpenRC
# script (openrc-run scripts are POSIX sh; SC2034: variables such as `name` are read by openrc-run itself).
# Any warning counts as a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify checks that ExecStart exists: point it at the built daemon
sed "s#/usr/local/bin/towerd#$PWD/dist/towerd#" systemd/towerd.service > "$tmp/towerd.service"
out=$(systemd-analyze verify "$tmp/towerd.service" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then echo "systemd-analyze verify: $out"; exit 1; fi
shellcheck --shell=sh --exclude=SC2034 openrc/towerd
shellcheck --shell=sh daemon/towerd.sh
head -n1 openrc/towerd | grep -qx '#!/sbin/openrc-run' || { echo "openrc/towerd must start with #!/sbin/openrc-run"; exit 1; }
echo "services: systemd unit and OpenRC script OK"
