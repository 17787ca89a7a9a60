import type { Core, Feature } from '../../core/feature.js';
import { Rotator } from './rotate.js';

/** `towerctl host rotate-key`: a host's client key replaced, journaled so that a crash finishes or rolls back. */
export function keysFeature(core: Core): Feature {
  const rotator = new Rotator(core);
  const resume = (name: string) => void rotator.recover(name).catch((err: unknown) => core.log.warn({ host: name, err: (err as Error).message }, 'key-rotation recovery failed'));
  return {
    name: 'keys',
    methods: { 'keys.rotate': ({ host }) => rotator.rotate(host) },
    start() {
      // hosts already connected when towerd starts its features; the others are resumed as they connect
      for (const h of core.registry.list()) if (core.supervisor?.get(h.name)?.connection) resume(h.name);
    },
    connectionChanged(name, online) {
      if (online) resume(name);
    },
  };
}
