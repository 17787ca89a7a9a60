import type { Core, Feature } from '../../core/feature.js';
import type { ClockPort } from '../../core/ports.js';
import { noSuchHost } from '../../core/errors.js';
import { ClockKeeper } from './keeper.js';

/**
 * Host clocks: each connected host's offset from the thin client's clock, measured on connection and every
 * clock.everyMs, and the clocks of hosts without a time source of their own set when they drift (keeper.ts).
 */
export function clockFeature(core: Core): Feature & { port: ClockPort } {
  const keeper = new ClockKeeper(core);
  const supervised = Boolean(core.supervisor);
  return {
    name: 'clock',
    port: { measure: (host) => keeper.measure(host), clock: (host) => keeper.clock(host) },
    methods: {
      'clock.sync': async ({ hosts }) => {
        const names = hosts ? [...new Set(hosts)] : core.registry.list().map((h) => h.name);
        for (const n of names) if (!core.registry.get(n)) throw noSuchHost(n);
        await Promise.all(names.map((n) => keeper.sync(n)));
        return { hosts: names.map((name) => ({ name, clock: keeper.clock(name) ?? null })) };
      },
    },
    start: () => {
      if (supervised) keeper.start();
    },
    stop: () => keeper.stop(),
    hostsChanged: (c) => {
      for (const name of c.removed) keeper.forget(name);
    },
    connectionChanged: (name, online) => keeper.connectionChanged(name, online),
    settingsChanged: (prev, next) => {
      if (supervised) keeper.schedule();
      // of the settings, only clock.hosts changes what hostInfo shows (the policy)
      return JSON.stringify(prev.clock.hosts) !== JSON.stringify(next.clock.hosts);
    },
    hostInfo: (name) => {
      const clock = keeper.clock(name);
      return clock ? { clock } : {};
    },
  };
}
