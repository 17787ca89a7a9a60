import type { Core } from '../../core/feature.js';
import { TowerError } from '../../core/errors.js';
import type { ApkSession, PackagesPort } from '../../core/ports.js';
import { runCaptured } from '../../core/exec/run.js';
import { apkArgv, privilegeMissing, privilegeMissingMessage, privilegeProbe, type ApkCommand } from './command.js';
import type { OpenRelay, RelayManager } from './relay/manager.js';
import { saveWorld, worldDiff } from './world.js';

/** How long towerd lets apk run when it restores a world by itself (no terminal to interrupt it). */
const RESTORE_TIMEOUT_MS = 30 * 60_000;

function apkFailure(what: string, r: { code: number | null; stderr: string }, host: string, cmd: Pick<ApkCommand, 'privilege'>): Error {
  if (r.code === null) return new Error(`${what}: no exit status (connection lost or timed out)`);
  if (privilegeMissing(cmd, r)) return new Error(privilegeMissingMessage(host, cmd));
  const line = r.stderr.split('\n').map((l) => l.trim()).filter(Boolean).pop();
  return new Error(`${what}: apk exited with ${r.code}${line ? `: ${line.slice(0, 300)}` : ''}`);
}

/**
 * apk on a host, the one way both `towerctl install|remove|upgrade` and automatic updates run it: the host must be
 * connected and have its privilege command (packages.privilege), an offline host gets the package relay for as long as the session is open, and apk gets its proxy.
 */
export function apkSessions(core: Core, relays: RelayManager): PackagesPort {
  const watchers = new Set<(host: string) => void>();
  const changed = (host: string) => {
    for (const fn of watchers) {
      try {
        fn(host);
      } catch (err) {
        core.log.error({ host, err: (err as Error).message }, 'a package change watcher failed');
      }
    }
  };
  const port: PackagesPort = {
    watchChanges(fn) {
      watchers.add(fn);
      return () => void watchers.delete(fn);
    },
    worldDiff: (host) => worldDiff(core, host),
    async restoreWorld(host) {
      const diff = await worldDiff(core, host);
      if (diff.missing.length === 0) return { ...diff, relayed: false, code: null, error: null };
      const run = await port.open(host);
      try {
        core.log.info({ host, packages: diff.missing, relayed: run.relayed }, 'restoring the saved world');
        const r = await runCaptured(run.session, run.argv('add', diff.missing, { progress: false }), RESTORE_TIMEOUT_MS);
        if (r.code === 0) await run.saveWorld();
        const error = r.code === 0 ? null : run.failure(`apk add on ${host}`, r).message;
        return { ...diff, relayed: run.relayed, code: r.code, error };
      } finally {
        await run.close();
      }
    },
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
        failure: (what, r) => apkFailure(what, r, host, core.settings().packages),
        saveWorld: () => saveWorld(core, session).finally(() => changed(host)),
        close: async () => {
          await relay?.close();
        },
      };
    },
  };
  return port;
}
