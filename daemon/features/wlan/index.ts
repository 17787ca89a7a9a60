import type { Core, Feature } from '../../core/feature.js';
import { RouterWlan } from './router.js';

/** `towerctl wlan router`: the router's Wi-Fi settings, changed only when the change gives it a way out. */
export function wlanFeature(core: Core): Feature {
  const wlan = new RouterWlan(core);
  return {
    name: 'wlan',
    methods: {
      'wlan.set': (p) => wlan.set(p),
      'wlan.status': () => wlan.status(),
    },
    connectionChanged(name, online) {
      if (name !== 'router' || !online) return;
      void wlan.resume().catch((err: unknown) => core.log.warn({ host: name, err: (err as Error).message }, 'cannot check the router for an unproven Wi-Fi change'));
    },
  };
}
