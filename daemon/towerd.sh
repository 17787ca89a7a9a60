#!/bin/sh
# towerd: node with the V8 flags towerd is measured with (`npm run bench -- forward`; README § Benchmarks). A
# launcher rather than `#!/usr/bin/env -S node FLAGS`, which busybox's env (Alpine, TowerOS) does not understand.
#   --initial-heap-size=64   after some seconds without traffic V8 lowers the old generation's limit to just above
#                            towerd's live heap (17 MB); forwarding allocates almost only Buffers, and every 50-100 ms
#                            of it then ended in a full collection (9-12 per 170 MiB, 0.4-0.9x the speed this gives);
#                            with the limit kept at 64 MB there are none
#   --max-semi-space-size=8  the young generation grows to 2 x 8 MB instead of 2 x 16 MB: 10,000 hostile RPC frames
#                            grow towerd's RSS by 26-32 MiB instead of 60-67 MiB; forwarding is unchanged. With 4 MB
#                            it is 15-26 MiB, but 50 idle hosts then cost 2.0-2.5 % of a core instead of 0.8 %
here=$(dirname "$(readlink -f "$0")")
exec node --initial-heap-size=64 --max-semi-space-size=8 "$here/daemon/main.js" "$@"
