#!/usr/bin/env bash
# What every command of the README's quick start needs on a fresh clone: the Debian packages
# (scripts/system-deps.sh), then the Node packages (`npm ci`) when node_modules is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-deps.sh
if [ ! -d node_modules ]; then
  echo "installing Node packages (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi
