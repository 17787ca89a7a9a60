import type { Implementation } from '../rpc/dispatch.js';
import type { ApiContext } from './context.js';

/** clipboard.* methods (daemon/desktop/clipboard.ts does the work). */
export function clipboardApi(ctx: ApiContext): Implementation {
  const { clipboard: clip, sound } = ctx;
  return {
    'clipboard.copy': ({ host, display, wayland }) => clip.copy(host, display, wayland),
    'clipboard.paste': ({ host, display, wayland }) => clip.paste(host, display, wayland),
    'clipboard.session': async ({ wayland }) => {
      const w = clip.session(wayland) ?? null;
      const hosts = [];
      for (const h of ctx.registry.list()) {
        const s = ctx.supervisor()?.get(h.name);
        let displays: string[] = [];
        if (s?.connection) displays = (await clip.displays(s).catch(() => [])).map((d) => d.display);
        hosts.push({ name: h.name, sound: sound.state(h.name), clipboard: clip.mode(h.name), soundError: sound.error(h.name), displays });
      }
      return { wayland: w, maxBytes: clip.maxBytes(), hosts };
    },
  };
}
