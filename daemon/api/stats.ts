import { readdirSync } from 'node:fs';
import type { Implementation } from '../rpc/dispatch.js';
import type { ApiContext } from './context.js';

/** Open file descriptors of this process, from /proc (Linux). */
function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

export function statsApi(ctx: ApiContext): Implementation {
  return {
    'daemon.stats': () => {
      const sessions = ctx.supervisor()?.all() ?? [];
      const counts = sessions.map((s) => s.counts());
      const mem = process.memoryUsage();
      const f = ctx.forwards.counts();
      return {
        pid: process.pid,
        openFds: openFds(),
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        rpcConnections: ctx.rpcConnections(),
        subscribers: ctx.hub.subscriberCount,
        hosts: ctx.registry.list().length,
        sshConnected: counts.filter((c) => c.connected).length,
        sshSockets: counts.reduce((a, c) => a + c.sockets, 0),
        channels: counts.reduce((a, c) => a + c.channels, 0),
        listeners: f.listeners,
        forwards: f.forwards,
      };
    },
  };
}
