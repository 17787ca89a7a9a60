import type { UpdateSummary } from '../../../protocol/index.js';
import type { Core, Feature } from '../../core/feature.js';
import type { AppsPort, PackagesPort } from '../../core/ports.js';
import { updateMethods } from './api.js';
import { Releases } from './release.js';
import { ApkUpdateRunner } from './runner.js';
import { UpdateScheduler } from './scheduler.js';
import { fileStore } from './store.js';

/**
 * Automatic security updates (`towerctl updates`): per-host interval and window, never while apps run, a few
 * hosts at a time. Without supervision there is nothing to schedule; the methods say so.
 */
export function updatesFeature(core: Core, ports: { apps: Pick<AppsPort, 'running'>; packages: PackagesPort }): Feature {
  const supervisor = core.supervisor;
  const summaries = new Map<string, UpdateSummary>();
  const releases = new Releases(core, (name) => core.hostChanged(name));
  const lastRun = new Map<string, string | null>();
  const scheduler = supervisor
    ? new UpdateScheduler({
        hosts: () => core.registry.list(),
        connected: (name) => Boolean(supervisor.get(name)?.connection),
        runningApps: (name) => ports.apps.running(name),
        settings: () => core.settings().packages.updates,
        runner: new ApkUpdateRunner(ports.packages, () => core.settings().packages.updates.timeoutMs),
        store: fileStore(core.paths.hostsDir),
        log: core.log,
        changed: (name, updates, summary) => {
          // a finished run or check (an upgrade, an edited repositories file): read the release again
          const lastAt = updates.last?.at ?? null;
          if (lastAt !== null && lastRun.has(name) && lastRun.get(name) !== lastAt) void releases.read(name);
          lastRun.set(name, lastAt);
          if (summary) summaries.set(name, summary);
          else summaries.delete(name);
          const host = core.registry.get(name);
          if (host) core.hub.publish({ type: 'host.updates', topic: 'hosts', host: core.hostInfo(host), updates });
        },
      })
    : undefined;
  return {
    name: 'updates',
    methods: updateMethods(core, scheduler, (name) => releases.get(name)),
    start: () => scheduler?.start(),
    stop: () => scheduler?.stop(),
    hostsChanged: (c) => {
      for (const name of c.removed) {
        summaries.delete(name);
        releases.forget(name);
        lastRun.delete(name);
      }
      scheduler?.poke();
    },
    connectionChanged: (name, online) => {
      scheduler?.noteState(name, online);
      if (online) void releases.read(name);
    },
    settingsChanged: () => {
      scheduler?.settingsChanged();
    },
    hostInfo: (name) => {
      const updates = summaries.get(name);
      const release = releases.get(name);
      return updates ? { updates: release ? { ...updates, release } : updates } : {};
    },
  };
}
