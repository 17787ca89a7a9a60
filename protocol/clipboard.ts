import * as z from 'zod/mini';
import { ClipboardMode, HostName, SoundState } from './host.js';

const describe = z.describe;

/** An X display name on a host: `:N` or `:N.S`. */
export const XDisplay = z.string().check(z.regex(/^:\d{1,4}(\.\d{1,2})?$/, 'an X display such as :3'));

/**
 * The thin client's Wayland session as towerctl sees it (its own environment). towerd uses it for wl-copy and
 * wl-paste, and remembers the last one for `auto` mode; without it towerd uses its own environment.
 */
export const WaylandEnv = z.strictObject({
  display: z.string().check(
    z.regex(/^(\/[^\0]{1,200}|[A-Za-z0-9._-]{1,100})$/, 'a socket name such as wayland-1, or an absolute path'),
    describe('WAYLAND_DISPLAY'),
  ),
  runtimeDir: z.string().check(z.regex(/^\/[^\0]{0,200}$/, 'an absolute path'), describe('XDG_RUNTIME_DIR')),
});
export type WaylandEnv = z.infer<typeof WaylandEnv>;

/** One side of a clipboard transfer: the thin client or a host (with the display on it). */
export const ClipboardEnd = z.union([
  z.object({ thinclient: z.literal(true) }),
  z.object({ host: HostName, display: z.optional(z.string().check(describe('the X display, or tcp:5556/tcp:5557 for a TowerOS host’s services'))) }),
]);
export type ClipboardEnd = z.infer<typeof ClipboardEnd>;

/** What a clipboard event carries: who to whom and how many bytes, never the text. */
export const ClipboardTransfer = z.object({
  from: ClipboardEnd,
  to: z.array(ClipboardEnd),
  mode: z.enum(['explicit', 'auto']),
  bytes: z.int(),
  ok: z.boolean(),
  reason: z.optional(z.string().check(describe('why it was refused or failed'))),
});
export type ClipboardTransfer = z.infer<typeof ClipboardTransfer>;

export const ClipboardEvents = [z.object({ type: z.literal('clipboard.transfer'), topic: z.literal('clipboard'), transfer: ClipboardTransfer })] as const;

export const HostDesktop = z.object({
  name: HostName,
  sound: SoundState,
  clipboard: ClipboardMode,
  soundError: z.nullable(z.string().check(describe('why sound is down'))),
  displays: z.array(z.string()).check(describe('the host’s app displays clipboard transfers use, most recent first')),
});
export type HostDesktop = z.infer<typeof HostDesktop>;

export const clipboardMethods = {
  'clipboard.copy': {
    description:
      'Take the clipboard of the host’s focused app (its most recent app display, or `display`) into the thin client’s Wayland clipboard. ' +
      'UTF-8 text up to desktop.clipboardMaxBytes; more is refused, never truncated. Refused when the host’s clipboard mode is off.',
    params: z.strictObject({ host: HostName, display: z.optional(XDisplay), wayland: z.optional(WaylandEnv) }),
    result: z.object({ host: HostName, display: z.string(), bytes: z.int() }),
  },
  'clipboard.paste': {
    description:
      'Send the thin client’s Wayland clipboard (UTF-8 text) to the host’s app displays (all of them, or `display`). Refused when the host’s clipboard mode is off.',
    params: z.strictObject({ host: HostName, display: z.optional(XDisplay), wayland: z.optional(WaylandEnv) }),
    result: z.object({ host: HostName, displays: z.array(z.string()), bytes: z.int() }),
  },
  'clipboard.session': {
    description:
      'Tell towerd which Wayland session to use (sway runs `towerctl clip session` at start), and show each host’s sound and clipboard state.',
    params: z.strictObject({ wayland: z.optional(WaylandEnv) }),
    result: z.object({
      wayland: z.nullable(WaylandEnv).check(describe('the session towerd uses now; null: none known')),
      maxBytes: z.int(),
      hosts: z.array(HostDesktop),
    }),
  },
} as const;
