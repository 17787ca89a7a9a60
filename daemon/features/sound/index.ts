import type { Core, Feature } from '../../core/feature.js';
import type { SoundPort } from '../../core/ports.js';
import { SoundManager, pulseServerFor } from './sound.js';

/** Sound of every host's apps to the thin client's PulseAudio, one remote forward per host (desktop.sound). */
export function soundFeature(core: Core): Feature & { port: SoundPort } {
  const sound = new SoundManager({
    forwards: core.forwards,
    hosts: () => core.registry.list().map((h) => h.name),
    supervising: () => core.supervisor !== undefined,
    settings: () => core.settings(),
    log: core.log,
    changed: (name) => core.hostChanged(name),
  });
  return {
    name: 'sound',
    methods: {},
    start: () => sound.start(),
    stop: () => sound.stop(),
    hostsChanged: () => sound.sync(),
    settingsChanged: (prev, next) => {
      if (JSON.stringify(prev.desktop) === JSON.stringify(next.desktop)) return false;
      sound.sync();
      return true;
    },
    hostInfo: (name) => ({ sound: sound.state(name) }),
    port: {
      state: (host) => sound.state(host),
      error: (host) => sound.error(host),
      pulseServer: (host) => pulseServerFor(core.settings(), host),
    },
  };
}
