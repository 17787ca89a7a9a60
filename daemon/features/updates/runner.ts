import type { PackageUpgrade } from '../../../protocol/updates.js';
import type { PackagesPort } from '../../core/ports.js';
import { runCaptured } from '../../core/exec/run.js';
import { parseUpgrades } from './apk-output.js';

/** One host's update session: for an offline host the package relay stays open from the check to the end. */
export interface UpdateSession {
  /** refresh the index and list the upgrades apk would make */
  check(): Promise<PackageUpgrade[]>;
  /** upgrade everything; what was upgraded and what apk still offers afterwards */
  upgrade(): Promise<{ upgraded: PackageUpgrade[]; pending: PackageUpgrade[] }>;
  close(): Promise<void>;
}

export interface UpdateRunner {
  open(name: string): Promise<UpdateSession>;
}

/**
 * apk on the hosts, the way `towerctl upgrade` runs it (the packages feature's apk sessions: packages.privilege,
 * packages.apk, the relay for offline hosts), with the output captured instead of streamed. Counting uses apk's own
 * solver: `apk upgrade --update-cache --simulate` refreshes the indexes and prints the transaction without changing
 * anything.
 */
export class ApkUpdateRunner implements UpdateRunner {
  constructor(
    private readonly apk: PackagesPort,
    private readonly timeoutMs: () => number,
  ) {}

  async open(name: string): Promise<UpdateSession> {
    const run = await this.apk.open(name);
    const apk = (extra: string[]) => [...run.argv('upgrade', [], { progress: false }), ...extra];
    const count = async (refresh: boolean) => {
      const r = await runCaptured(run.session, apk([...(refresh ? ['--update-cache'] : []), '--simulate']), this.timeoutMs());
      if (r.code !== 0) throw run.failure(refresh ? 'refreshing the index' : 'counting upgrades', r);
      return parseUpgrades(r.stdout);
    };
    return {
      check: () => count(true),
      upgrade: async () => {
        const r = await runCaptured(run.session, apk(['--no-interactive']), this.timeoutMs());
        if (r.code !== 0) throw run.failure('apk upgrade', r);
        const upgraded = parseUpgrades(r.stdout);
        await run.saveWorld();
        return { upgraded, pending: await count(false) };
      },
      close: () => run.close(),
    };
  }
}
