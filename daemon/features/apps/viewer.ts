import { spawn, type ChildProcess } from 'node:child_process';
import type { ViewerEnv, ViewerState } from '../../../protocol/index.js';
import type { Captured } from '../../core/exec/run.js';
import { TowerError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { Settings } from '../../core/settings.js';
import type { AppRecord } from './records.js';
import { setWindowClass, watchWindowSize, windowsOf } from './xwindow.js';

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

const RESPAWN_WINDOW_MS = 30_000;
const RESPAWN_MAX = 5;

/** What a viewer asks of the rest of its app. */
export interface ViewerHooks {
  settings(): Settings['desktop'];
  log: Logger;
  /** whether the app still wants a viewer: it has not exited, and towerd is not stopping */
  wanted(): boolean;
  /** the viewer went from attached to detached or back (`Viewer.state` is the new state already) */
  changed(v: ViewerState, reason: string): void;
  /** the viewer exited by itself (its window closed, its connection ended) while the app still wants one */
  gone(): void;
  /** resize the app's screen on its host; undefined while the host is not connected */
  resizeHost(w: number, h: number): Promise<Captured> | undefined;
}

interface FrameWaiter {
  resolve(): void;
  reject(e: Error): void;
}

/**
 * The viewer process towerd runs for one app, connected to the app's bridge socket (bridge.ts): started, its window
 * decorated, restarted when its connection came back, and stopped. It is told by the bridge when it shows the app.
 */
export class Viewer {
  private current: ViewerState = 'detached';
  private proc: ChildProcess | undefined;
  /** the viewer is being stopped by towerd itself (app gone, towerd stopping): its exit means nothing */
  private stopping = false;
  /** which side ended the last bridged connection first */
  private lastEnd: 'viewer' | 'host' | undefined;
  /** what explains a viewer that shows nothing: its stderr's tail, or why it or its connection could not start */
  private err = '';
  private readonly waiters: FrameWaiter[] = [];
  /** stops of the window's size watchers */
  private readonly watchers: (() => void)[] = [];
  private respawns: number[] = [];
  private readonly screen: ScreenFollower;

  constructor(
    private readonly app: AppRecord,
    private readonly socket: string,
    private readonly hooks: ViewerHooks,
  ) {
    this.screen = new ScreenFollower(app, hooks);
  }

  get state(): ViewerState {
    return this.current;
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** The last viewer connection was ended from the host's side (the connection dropped), not by the viewer. */
  get lostHost(): boolean {
    return this.lastEnd === 'host';
  }

  /** The bridge saw the first framebuffer update go to the viewer. */
  shown(how: 'update' | 'unparsed'): void {
    this.hooks.log.info({ host: this.app.host, app: this.app.id, how }, 'viewer showing the app');
    for (const w of this.waiters.splice(0)) w.resolve();
    this.set('attached', 'first framebuffer update');
  }

  connectionEnded(by: 'viewer' | 'host' | undefined): void {
    this.lastEnd = by;
  }

  unreachable(message: string): void {
    this.err = message;
  }

  /** Resolves when the viewer shows the app; fails when it exits first, the app exits, or `timeoutMs` passes. */
  firstFrame(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new TowerError('AppFailed', `the viewer showed nothing within ${timeoutMs} ms${this.err ? `: ${this.err}` : ''}`));
      }, timeoutMs);
      const waiter: FrameWaiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Fail whoever waits for the first frame. */
  fail(err: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  detach(reason: string): void {
    this.set('detached', reason);
  }

  /** Start the viewer unless it runs or is not wanted; resolves when its window is decorated. */
  start(why: string): Promise<void> {
    if (this.proc || !this.hooks.wanted()) return Promise.resolve();
    const argv = viewerArgv(this.hooks.settings().viewer, this.socket);
    this.err = '';
    this.lastEnd = undefined;
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), { env: viewerEnv(this.app.env), stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      this.err = `cannot start the viewer ${argv[0]}: ${(err as Error).message}`;
      this.fail(new TowerError('AppFailed', this.err));
      return Promise.resolve();
    }
    this.proc = child;
    this.hooks.log.info({ host: this.app.host, app: this.app.id, pid: child.pid, why }, 'viewer started');
    child.stderr!.on('data', (b: Buffer) => {
      this.err = (this.err + b.toString('utf8')).slice(-2000);
    });
    child.on('error', (err) => {
      this.err = `cannot start the viewer ${argv[0]}: ${err.message}`;
    });
    child.on('close', (code, signal) => {
      if (this.proc === child) this.proc = undefined;
      for (const stop of this.watchers.splice(0)) stop();
      const wasStopping = this.stopping;
      this.stopping = false;
      this.hooks.log.info({ host: this.app.host, app: this.app.id, code, signal }, 'viewer exited');
      const tail = this.err.trim().split('\n').slice(-3).join(' ').slice(0, 500);
      this.fail(new TowerError('AppFailed', `the viewer exited before showing the app${tail ? `: ${tail}` : ''}`));
      if (wasStopping || !this.hooks.wanted()) return;
      this.set('detached', this.lastEnd === 'host' ? 'the connection to the app ended' : 'the viewer was closed');
      this.hooks.gone();
    });
    return this.decorate(child);
  }

  /** Start the viewer again, unless it failed too often lately (a host that keeps dropping it). */
  respawn(why: string): void {
    const now = Date.now();
    this.respawns = this.respawns.filter((t) => now - t < RESPAWN_WINDOW_MS);
    if (this.respawns.length >= RESPAWN_MAX) {
      this.hooks.log.warn({ host: this.app.host, app: this.app.id }, 'the viewer keeps failing; not restarting it until the host reconnects');
      return;
    }
    this.respawns.push(now);
    void this.start(why);
  }

  /** The host reconnected: the viewer may be restarted as often again. */
  forgetRespawns(): void {
    this.respawns = [];
  }

  stop(): void {
    if (!this.proc) return;
    this.stopping = true;
    this.proc.kill('SIGTERM');
  }

  /** The viewer's window: class tower-HOST for sway's rules, and its size followed at once (desktop.fastResize). */
  private async decorate(child: ChildProcess): Promise<void> {
    const s = this.hooks.settings();
    const env = viewerEnv(this.app.env);
    if (!child.pid || !env.DISPLAY || (!s.viewerClass && !s.fastResize)) return;
    const ids = await windowsOf(child.pid, env, s.startTimeoutMs);
    if (this.proc !== child) return;
    if (s.viewerClass && !(await setWindowClass(ids, `tower-${this.app.host}`, env))) this.hooks.log.warn({ app: this.app.id }, 'could not set the viewer window class (is xdotool installed?)');
    if (s.fastResize && this.proc === child) for (const id of ids) this.watchers.push(watchWindowSize(id, env, (w, h) => this.screen.resize(w, h)));
  }

  private set(v: ViewerState, reason: string): void {
    if (this.current === v) return;
    this.current = v;
    this.hooks.changed(v, reason);
  }
}

/** The app's screen on its host follows the viewer window's size: one resize on the host at a time, the latest size wins. */
class ScreenFollower {
  private wanted: { w: number; h: number } | undefined;
  private busy = false;
  private applied = '';

  constructor(
    private readonly app: AppRecord,
    private readonly hooks: ViewerHooks,
  ) {}

  resize(w: number, h: number): void {
    if (!this.hooks.settings().fastResize || w < 64 || h < 64 || w > 16384 || h > 16384) return;
    this.wanted = { w, h };
    if (this.busy) return;
    this.busy = true;
    void (async () => {
      try {
        while (this.wanted && this.hooks.wanted()) {
          const want = this.wanted;
          this.wanted = undefined;
          const size = `${want.w}x${want.h}`;
          if (size === this.applied) continue;
          const resizing = this.hooks.resizeHost(want.w, want.h);
          if (!resizing) break;
          const r = await resizing;
          if (r.code === 0) this.applied = size;
          else this.hooks.log.debug({ app: this.app.id, size, code: r.code, err: r.stderr }, 'resize on the host failed; the viewer’s own request follows');
        }
      } catch (err) {
        this.hooks.log.debug({ app: this.app.id, err: (err as Error).message }, 'resize on the host failed');
      } finally {
        this.busy = false;
      }
    })();
  }
}
