import type { Core, Feature } from '../../core/feature.js';
import type { AppsPort, SoundPort } from '../../core/ports.js';
import { ClipboardAuto } from './auto.js';
import { ClipboardService, clipboardMode } from './service.js';
import { clipboardMethods } from './api.js';
import { sessionReport } from './report.js';

/** `towerctl clip`: text between hosts' app displays and the thin client, on request or (auto) both ways. */
export function clipboardFeature(core: Core, ports: { apps: AppsPort; sound: SoundPort }): Feature {
  const clip = new ClipboardService({
    registry: core.registry,
    supervisor: () => core.supervisor,
    connected: (name) => core.connected(name),
    settings: () => core.settings(),
    apps: ports.apps,
    log: core.log,
    publish: (e) => core.hub.publish(e),
  });
  const auto = new ClipboardAuto(clip, core.forwards, core.runtimeDir);
  return {
    name: 'clipboard',
    methods: clipboardMethods(clip, sessionReport(core, clip, ports.sound)),
    start: () => auto.start(),
    stop: () => auto.stop(),
    hostsChanged: () => void auto.reconcile(),
    settingsChanged: (prev, next) => {
      const changed = core.registry.list().some((h) => clipboardMode(prev, h.name) !== clipboardMode(next, h.name));
      if (changed) void auto.reconcile();
      return changed;
    },
    hostInfo: (name) => ({ clipboard: clip.mode(name) }),
  };
}
