#!/usr/bin/env bash
# `npm run bench [-- SUITE...]`: installs what it needs (scripts/deps.sh), builds, then runs bench/run.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
npm run -s build
exec node_modules/.bin/tsx bench/run.ts "$@"
