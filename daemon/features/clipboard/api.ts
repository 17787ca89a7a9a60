import type { ClipboardService } from './service.js';
import type { Implementation } from '../../core/rpc/dispatch.js';
import type { SessionReport } from './report.js';

export function clipboardMethods(clip: ClipboardService, report: SessionReport): Implementation {
  return {
    'clipboard.copy': ({ host, display, wayland }) => clip.copy(host, display, wayland),
    'clipboard.paste': ({ host, display, wayland }) => clip.paste(host, display, wayland),
    'clipboard.session': async ({ wayland }) => ({ wayland: clip.session(wayland) ?? null, maxBytes: clip.maxBytes(), hosts: await report() }),
  };
}
