import type { HostDesktop } from '../../../protocol/index.js';
import type { Core } from '../../core/feature.js';
import type { SoundPort } from '../../core/ports.js';
import type { ClipboardService } from './service.js';

export type SessionReport = () => Promise<HostDesktop[]>;

/** `towerctl clip session`: per host its sound and clipboard mode, and the app displays a copy or paste would use now. */
export function sessionReport(core: Core, clip: ClipboardService, sound: SoundPort): SessionReport {
  return async () => {
    const hosts: HostDesktop[] = [];
    for (const h of core.registry.list()) {
      const s = core.supervisor?.get(h.name);
      let displays: string[] = [];
      if (s?.connection) displays = (await clip.displays(s).catch(() => [])).map((d) => d.display);
      hosts.push({ name: h.name, sound: sound.state(h.name), clipboard: clip.mode(h.name), soundError: sound.error(h.name), displays });
    }
    return hosts;
  };
}
