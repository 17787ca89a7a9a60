import * as z from 'zod/mini';
import { HostName } from './host.js';

/** towerd's id of a running app: `a` and a number. */
export const AppId = z.string().check(z.regex(/^a[0-9]{1,9}$/, 'an app id such as a3'));

/** The graphical environment towerctl runs in; only these variables reach the viewer. */
export const ViewerEnv = z.strictObject({
  WAYLAND_DISPLAY: z.optional(z.string().check(z.minLength(1), z.maxLength(255), z.regex(/^[^\0\n]*$/))),
  DISPLAY: z.optional(z.string().check(z.minLength(1), z.maxLength(255), z.regex(/^[^\0\n]*$/))),
  XDG_RUNTIME_DIR: z.optional(z.string().check(z.regex(/^\/[^\0\n]*$/, 'an absolute path'), z.maxLength(4096))),
});
export type ViewerEnv = z.infer<typeof ViewerEnv>;

export const AppState = z.enum(['starting', 'running', 'closing', 'exited']);
export type AppState = z.infer<typeof AppState>;

export const ViewerState = z.enum(['attached', 'detached']);
export type ViewerState = z.infer<typeof ViewerState>;

export const AppInfo = z.object({
  id: AppId,
  host: HostName,
  argv: z.array(z.string()),
  state: AppState,
  viewer: ViewerState.check(z.describe('attached: a viewer is showing the app; detached: none (host away, or starting)')),
  display: z.nullable(z.string()).check(z.describe('the app’s X display on its host, e.g. ":3"')),
  pid: z.nullable(z.int()).check(z.describe('the app’s process id on its host')),
  hostDir: z.nullable(z.string()).check(z.describe('the app’s private state folder on its host (Xauthority, VNC socket)')),
  startedAt: z.iso.datetime(),
  uptimeMs: z.number(),
  exitCode: z.nullable(z.int()).check(z.describe('once exited: the app’s exit status (128+N after signal N)')),
});
export type AppInfo = z.infer<typeof AppInfo>;

const Argv = z.array(z.string().check(z.maxLength(65_536), z.regex(/^[^\0]*$/, 'no NUL bytes'))).check(z.minLength(1), z.maxLength(4096));

export const appMethods = {
  'apps.run': {
    description:
      'Start argv on a host in its own X display (Xvnc, kept maximized by a window manager) and show it through a VNC viewer that towerd spawns ' +
      'in the given graphical environment. Returns once the viewer received the first framebuffer update.',
    params: z.strictObject({
      host: HostName,
      argv: Argv.check(z.refine((a) => a[0]!.length > 0, 'the program name must not be empty')),
      env: ViewerEnv,
    }),
    result: z.object({ app: AppInfo, firstFrameMs: z.number().check(z.describe('from the request to the first framebuffer update')) }),
  },
  'apps.list': {
    description: 'Running apps, all or those of one host, most recently started first.',
    params: z.strictObject({ host: z.optional(HostName) }),
    result: z.object({ apps: z.array(AppInfo) }),
  },
  'apps.close': {
    description: 'Close an app politely (WM_DELETE_WINDOW to its windows, TERM after the grace period) and wait until it has exited.',
    params: z.strictObject({ id: AppId }),
    result: z.object({ app: AppInfo }),
  },
} as const;

export const AppEvents = [
  z.object({ type: z.literal('app.started'), topic: z.literal('apps'), app: AppInfo }),
  z.object({ type: z.literal('app.exited'), topic: z.literal('apps'), app: AppInfo }),
  z.object({
    type: z.literal('app.viewer'),
    topic: z.literal('apps'),
    app: AppInfo,
    viewer: ViewerState,
    reason: z.string().check(z.describe('why the viewer attached or detached')),
  }),
] as const;
