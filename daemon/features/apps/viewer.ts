import type { ViewerEnv } from '../../../protocol/index.js';

/** The environment a viewer gets: towerd's PATH, HOME and locale, and the whitelisted graphical variables. */
export function viewerEnv(env: ViewerEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'HOME', 'LANG', 'LC_ALL', 'USER', 'LOGNAME'] as const) if (process.env[k] !== undefined) out[k] = process.env[k];
  if (env.DISPLAY) out.DISPLAY = env.DISPLAY;
  if (env.WAYLAND_DISPLAY) out.WAYLAND_DISPLAY = env.WAYLAND_DISPLAY;
  if (env.XDG_RUNTIME_DIR) out.XDG_RUNTIME_DIR = env.XDG_RUNTIME_DIR;
  return out;
}

/** The viewer's argv from the `desktop.viewer` setting: `{socket}` becomes the app's socket, appended when absent. */
export function viewerArgv(template: readonly string[], socket: string): string[] {
  let used = false;
  const argv = template.map((a) => {
    if (a !== '{socket}') return a;
    used = true;
    return socket;
  });
  if (!used) argv.push(socket);
  return argv;
}
