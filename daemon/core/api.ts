import { readdirSync } from 'node:fs';
import { MAX_FRAME_BYTES, PROTOCOL_VERSION, TOWER_VERSION } from '../../protocol/index.js';
import type { Implementation } from './rpc/dispatch.js';
import { noSuchHost, notSupervised } from './errors.js';
import type { Core } from './feature.js';

/** Open file descriptors of this process, from /proc (Linux). */
function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

/** The newest records that fit one reply frame, with room for the envelope and a record's few extra names each. */
const TAIL_BYTES = MAX_FRAME_BYTES - 128 * 1024;

/** The methods of towerd itself: the daemon, the registry, host states, events and logs. */
export function coreMethods(core: Core): Implementation {
  const find = (name: string) => {
    const host = core.registry.get(name);
    if (!host) throw noSuchHost(name);
    return host;
  };
  const allInfo = () => core.registry.list().map((h) => core.hostInfo(h));
  return {
    'daemon.info': () => ({
      name: 'towerd' as const,
      version: TOWER_VERSION,
      protocolVersion: PROTOCOL_VERSION,
      pid: process.pid,
      startedAt: core.startedAt.toISOString(),
      uptimeMs: Date.now() - core.startedAt.getTime(),
      socket: core.socketPath,
      node: process.version,
      paths: {
        towerDir: core.paths.towerDir,
        registry: core.paths.registry,
        sshConfig: core.paths.sshConfig,
        knownHosts: core.paths.knownHosts,
        settings: core.paths.settings,
      },
    }),
    'daemon.reload': async () => ({ registry: await core.reload() }),
    'daemon.stats': () => {
      const counts = (core.supervisor?.all() ?? []).map((s) => s.counts());
      const mem = process.memoryUsage();
      const f = core.forwards.counts();
      return {
        pid: process.pid,
        openFds: openFds(),
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        rpcConnections: core.rpcConnections(),
        subscribers: core.hub.subscriberCount,
        hosts: core.registry.list().length,
        sshConnected: counts.filter((c) => c.connected).length,
        sshSockets: counts.reduce((a, c) => a + c.sockets, 0),
        channels: counts.reduce((a, c) => a + c.channels, 0),
        listeners: f.listeners,
        forwards: f.forwards,
      };
    },
    status: () => {
      const hosts = allInfo();
      const online = hosts.filter((h) => h.state === 'online').length;
      // a host being provisioned has not come up yet: it is not down
      const down = hosts.filter((h) => !['online', 'unsupervised', 'provisioning'].includes(h.state)).length;
      return {
        daemon: { version: TOWER_VERSION, pid: process.pid, uptimeMs: Date.now() - core.startedAt.getTime() },
        registry: core.registry.getStatus(),
        hosts,
        summary: { total: hosts.length, online, down },
        ...core.statusParts(),
      };
    },
    'host.list': () => ({ hosts: allInfo() }),
    'host.get': ({ name }) => core.hostInfo(find(name)),
    'host.add': async (p) => {
      const r = await core.registry.add(p);
      core.log.info({ host: r.host.name, role: r.host.role, ip: r.host.ip, generatedKey: r.generatedKey }, 'host added');
      return { host: core.hostInfo(r.host), publicKey: r.publicKey, generatedKey: r.generatedKey };
    },
    'host.reconnect': ({ name }) => {
      const host = find(name);
      const session = core.supervisor?.get(name);
      if (!session) throw notSupervised();
      session.reconnectNow();
      return core.hostInfo(host);
    },
    'host.remove': async ({ name, keepFiles }) => {
      const r = await core.registry.remove(name, keepFiles);
      core.log.info({ host: name, knownHostsLinesRemoved: r.knownHostsLinesRemoved, filesRemoved: r.filesRemoved }, 'host removed');
      return { name, ...r };
    },
    'events.subscribe': ({ topics }, conn) => ({ topics: core.hub.subscribe(conn, topics) }),
    'logs.tail': ({ lines, level }) => ({ records: core.ring.tail(lines, level, TAIL_BYTES) }),
  };
}
