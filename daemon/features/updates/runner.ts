import type { PackageUpgrade } from '../../../protocol/updates.js';
import type { PackagesPort } from '../../core/ports.js';
import { runCaptured, type Captured } from '../../exec/run.js';
import { privilegeMissing, privilegeMissingMessage, type ApkCommand } from '../../packages/command.js';
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

function apkFailure(what: string, r: Captured, host: string, cmd: Pick<ApkCommand, 'privilege'>): Error {
  if (r.code === null) return new Error(`${what}: no exit status (connection lost or timed out)`);
  if (privilegeMissing(cmd, r)) return new Error(privilegeMissingMessage(host, cmd));
  const line = r.stderr.split('\n').map((l) => l.trim()).filter(Boolean).pop();
  return new Error(`${what}: apk exited with ${r.code}${line ? `: ${line.slice(0, 300)}` : ''}`);
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
    private readonly apkCommand: () => Pick<ApkCommand, 'privilege'>,
  ) {}

  async open(name: string): Promise<UpdateSession> {
    const run = await this.apk.open(name);
    const apk = (extra: string[]) => [...run.argv('upgrade', [], { progress: false }), ...extra];
    const count = async (refresh: boolean) => {
      const r = await runCaptured(run.session, apk([...(refresh ? ['--update-cache'] : []), '--simulate']), this.timeoutMs());
      if (r.code !== 0) throw apkFailure(refresh ? 'refreshing the index' : 'counting upgrades', r, name, this.apkCommand());
      return parseUpgrades(r.stdout);
    };
    return {
      check: () => count(true),
      upgrade: async () => {
        const r = await runCaptured(run.session, apk(['--no-interactive']), this.timeoutMs());
        if (r.code !== 0) throw apkFailure('apk upgrade', r, name, this.apkCommand());
        const upgraded = parseUpgrades(r.stdout);
        await run.saveWorld();
        return { upgraded, pending: await count(false) };
      },
      close: () => run.close(),
    };
  }
}
