#!/bin/sh
# towerd: node with the V8 flags towerd is measured with (`npm run bench -- forward`; README § Benchmarks). A
# launcher rather than `#!/usr/bin/env -S node FLAGS`, which busybox's env (Alpine, TowerOS) does not understand.
#   --initial-heap-size=64   after some seconds without traffic V8 lowers the old generation's limit to just above
#                            towerd's live heap (17 MB); forwarding allocates almost only Buffers, and every 50-100 ms
#                            of it then ends in a full collection (9-12 per 170 MiB, 0.55-0.7x OpenSSH); with the
#                            limit kept at 64 MB there are none (1.1-1.3x OpenSSH)
#   --max-semi-space-size=4  the young generation grows to 2 x 4 MB instead of 2 x 16 MB: 10,000 hostile RPC frames
#                            grow towerd's RSS by 17-26 MiB instead of 60-67 MiB; forwarding is unchanged
here=$(dirname "$(readlink -f "$0")")
exec node --initial-heap-size=64 --max-semi-space-size=4 "$here/daemon/main.js" "$@"
