import type { Core } from '../../core/feature.js';
import { TowerError } from '../../core/errors.js';
import type { ApkSession, PackagesPort } from '../../core/ports.js';
import { runCaptured } from '../../exec/run.js';
import { apkArgv, privilegeMissingMessage, privilegeProbe } from '../../packages/command.js';
import type { OpenRelay, RelayManager } from '../../packages/relays.js';
import { saveWorld } from './world.js';

/**
 * apk on a host, the one way both `towerctl install|remove|upgrade` and automatic updates run it: the host must be
 * connected and have its privilege command (packages.privilege), an offline host gets the package relay for as long as the session is open, and apk gets its proxy.
 */
export function apkSessions(core: Core, relays: RelayManager): PackagesPort {
  return {
    async open(host: string): Promise<ApkSession> {
      const session = core.connected(host);
      // a missing sudo would only show as the host shell's "sudo: command not found" in apk's output
      const probe = privilegeProbe(core.settings().packages);
      if (probe) {
        const r = await runCaptured(session, probe, 10_000);
        if (r.code !== 0 && r.code !== null) throw new TowerError('CommandMissing', privilegeMissingMessage(host, core.settings().packages));
      }
      const relayed = session.host.role === 'offline';
      let relay: OpenRelay | undefined;
      if (relayed) {
        try {
          relay = await relays.open(host);
        } catch (err) {
          throw new TowerError('HostUnavailable', `cannot relay packages for ${host}: ${(err as Error).message}`);
        }
      }
      return {
        session,
        relayed,
        argv: (action, packages, opts) => apkArgv(core.settings().packages, action, packages, { proxyUrl: relay?.url, progress: opts.progress }),
        saveWorld: () => saveWorld(core, session),
        close: async () => {
          await relay?.close();
        },
      };
    },
  };
}
