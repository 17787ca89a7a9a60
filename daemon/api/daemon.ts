import { PROTOCOL_VERSION, TOWER_VERSION } from '../../protocol/index.js';
import type { Implementation } from '../rpc/dispatch.js';
import type { ApiContext } from './context.js';

export function daemonApi(ctx: ApiContext): Implementation {
  return {
    'daemon.info': () => ({
      name: 'towerd' as const,
      version: TOWER_VERSION,
      protocolVersion: PROTOCOL_VERSION,
      pid: process.pid,
      startedAt: ctx.startedAt.toISOString(),
      uptimeMs: Date.now() - ctx.startedAt.getTime(),
      socket: ctx.socketPath,
      node: process.version,
      paths: {
        towerDir: ctx.paths.towerDir,
        registry: ctx.paths.registry,
        sshConfig: ctx.paths.sshConfig,
        knownHosts: ctx.paths.knownHosts,
        settings: ctx.paths.settings,
      },
    }),
    'daemon.reload': async () => ({ registry: await ctx.reload() }),
  };
}
