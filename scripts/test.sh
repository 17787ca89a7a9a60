#!/usr/bin/env bash
# `npm test`: everything needed for a fresh Debian 12 machine, then all tests (unit and integration).
# Integration tests build network namespaces and run real sshd, so they need root.
# Extra arguments go to vitest (e.g. `npm test -- --project unit`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
exec npx vitest run "$@"
