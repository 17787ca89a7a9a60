import { AppManager } from './manager.js';
import type { Core, Feature } from '../../core/feature.js';
import type { AppsPort, SoundPort } from '../../core/ports.js';
import { appMethods } from './api.js';

/** `towerctl run`, `apps`, `close`: GUI apps in their own X server on their host, shown here by a viewer. */
export function appsFeature(core: Core, ports: { sound: Pick<SoundPort, 'pulseServer'> }): Feature & { port: AppsPort } {
  const displaysChanged = new Set<(host: string) => void>();
  const apps = new AppManager({
    registry: core.registry,
    supervisor: () => core.supervisor,
    connected: (name) => core.connected(name),
    settings: () => core.settings(),
    publish: (e) => {
      core.hub.publish(e);
      if (e.type === 'app.started' || e.type === 'app.exited') for (const fn of displaysChanged) fn(e.app.host);
    },
    log: core.log,
    pulseServer: (host) => ports.sound.pulseServer(host),
    runtimeDir: core.runtimeDir,
  });
  return {
    name: 'apps',
    methods: appMethods(apps),
    start: () => apps.start(),
    stop: () => apps.stop(),
    hostsChanged: (c) => {
      for (const name of c.removed) apps.forgetHost(name);
    },
    port: {
      displays: (host) => apps.displays(host),
      displayEnv: (host, display) => apps.displayEnv(host, display),
      running: (host) => apps.running(host),
      watchDisplays: (fn) => {
        displaysChanged.add(fn);
        return () => displaysChanged.delete(fn);
      },
    },
  };
}
