#!/usr/bin/env bash
# `npm run demo [-- --keep]`: installs what it needs (scripts/deps.sh), builds, then runs test/lab/demo.ts
# (root: it builds network namespaces). Extra arguments go to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
npm run -s build
exec node_modules/.bin/tsx test/lab/demo.ts "$@"
