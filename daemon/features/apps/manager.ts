import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { basename, join } from 'node:path';
import type { Client } from 'ssh2';
import * as z from 'zod/mini';
import { ViewerEnv, type AppInfo, type AppState, type Event, type ViewerState } from '../../../protocol/index.js';
import { runCaptured } from '../../core/exec/run.js';
import type { Logger } from '../../core/log.js';
import type { Registry } from '../../core/registry/registry.js';
import { TowerError } from '../../core/errors.js';
import type { Settings } from '../../core/settings.js';
import type { HostSession } from '../../core/ssh/session.js';
import type { Supervisor } from '../../core/ssh/supervisor.js';
import { ensurePrivateDir, writeFileAtomic } from '../../core/util/fs.js';
import { splice } from '../../core/forwards/splice.js';
import { CONTROL, DIR_NAME_RE, LAUNCH, SUPERVISOR, parseHostApps, parseLaunch, type HostAppLine } from './hostscript.js';
import { FirstFrameWatch } from './rfb.js';
import { listenPrivate } from '../../core/util/private-socket.js';
import { setWindowClass, viewerArgv, viewerEnv, watchWindowSize, windowsOf } from './viewer.js';

/** What the manager needs from the daemon. */
export interface AppDeps {
  registry: Registry;
  supervisor(): Supervisor | undefined;
  /** the host's session if it is connected now; otherwise the TowerError that says why not */
  connected(name: string): HostSession;
  settings(): Settings;
  publish(e: Event): void;
  log: Logger;
  /** PULSE_SERVER for the host's apps: the sound feature's forward on the host, '' while sound is off there */
  pulseServer(host: string): string;
  /** towerd's private runtime folder (the API socket's): viewer sockets and the app records live here */
  runtimeDir: string;
}

interface App {
  id: string;
  host: string;
  argv: string[];
  dirName: string;
  hostDir: string;
  display: string;
  pid: number;
  startedAt: Date;
  env: ViewerEnv;
  state: AppState;
  viewer: ViewerState;
  exitCode: number | null;
  socket: string;
  server: Server | undefined;
  proc: ChildProcess | undefined;
  /** the viewer is being stopped by towerd itself (app gone, towerd stopping): its exit means nothing */
  stoppingViewer: boolean;
  /** which side ended the last viewer connection first */
  lastEnd: 'viewer' | 'host' | undefined;
  viewerErr: string;
  frameWaiters: { resolve(): void; reject(e: Error): void }[];
  /** stops of the viewer window's size watchers */
  watchers: (() => void)[];
  /** fast resize: the size asked for last, whether a resize runs on the host, the size applied last */
  wantSize: { w: number; h: number } | undefined;
  resizing: boolean;
  appliedSize: string;
  exitWaiters: (() => void)[];
  respawns: number[];
  conns: Set<Socket>;
}

const Record_ = z.object({
  id: z.string().check(z.regex(/^a[0-9]{1,9}$/)),
  host: z.string(),
  argv: z.array(z.string()),
  dirName: z.string().check(z.regex(DIR_NAME_RE)),
  hostDir: z.string(),
  display: z.string(),
  pid: z.int(),
  startedAt: z.iso.datetime(),
  env: ViewerEnv,
});
const StateFile = z.object({ next: z.int(), apps: z.array(Record_) });

/** Read the state afresh (awaits in between change it; a plain comparison would be narrowed away). */
function exitedNow(app: { state: AppState }): boolean {
  return app.state === 'exited';
}

const RESPAWN_WINDOW_MS = 30_000;
const RESPAWN_MAX = 5;

/**
 * GUI apps on hosts: each runs in its own Xvnc on its host under a detached supervisor (hostscript.ts)
 * and is shown here by a VNC viewer towerd spawns, connected to a private Unix socket of towerd that is bridged to
 * the app's Xvnc socket over the host's supervised SSH connection.
 */
export class AppManager {
  private readonly apps = new Map<string, App>();
  private next = 1;
  /** app folders being launched: a reconcile running meanwhile must not take them for leftovers */
  private readonly pending = new Set<string>();
  private readonly attached = new Set<string>();
  private readonly hostQueues = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(private readonly deps: AppDeps) {}

  private get appsDir(): string {
    return join(this.deps.runtimeDir, 'apps');
  }

  private get stateFile(): string {
    return join(this.deps.runtimeDir, 'apps.json');
  }

  /** Load the records a previous towerd left and watch every host, to reattach or clean up when it is online. */
  async start(): Promise<void> {
    await ensurePrivateDir(this.appsDir);
    try {
      const parsed = StateFile.safeParse(JSON.parse(await readFile(this.stateFile, 'utf8')));
      if (parsed.success) {
        this.next = parsed.data.next;
        for (const r of parsed.data.apps) {
          if (!this.deps.registry.get(r.host)) continue;
          const app = this.newApp({ ...r, startedAt: new Date(r.startedAt) });
          app.state = 'running';
          this.apps.set(app.id, app);
          await this.listen(app);
        }
      }
    } catch {
      // no records: nothing to reattach
    }
    for (const h of this.deps.registry.list()) this.watchHost(h.name);
  }

  /** X display names of a host's running apps, most recently started first (e.g. ':3'). */
  displays(host: string): string[] {
    return this.live(host).map((a) => a.display);
  }

  /** DISPLAY and XAUTHORITY for a command on the host that talks to one of its app displays. */
  displayEnv(host: string, display: string): { DISPLAY: string; XAUTHORITY: string } | undefined {
    const a = this.live(host).find((x) => x.display === display);
    return a ? { DISPLAY: a.display, XAUTHORITY: `${a.hostDir}/Xauthority` } : undefined;
  }

  running(host: string): number {
    return this.live(host).length;
  }

  list(host?: string): AppInfo[] {
    return [...this.apps.values()]
      .filter((a) => !host || a.host === host)
      .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || Number(b.id.slice(1)) - Number(a.id.slice(1)))
      .map((a) => this.info(a));
  }

  async run(host: string, argv: string[], env: ViewerEnv): Promise<{ app: AppInfo; firstFrameMs: number }> {
    const t0 = performance.now();
    if (!env.DISPLAY && !env.WAYLAND_DISPLAY) throw new TowerError('InvalidParams', 'no graphical environment: DISPLAY or WAYLAND_DISPLAY is needed to show the app');
    const s = this.deps.connected(host);
    const settings = this.deps.settings().desktop;
    const id = `a${this.next++}`;
    const dirName = `${id}-${randomBytes(4).toString('hex')}`;
    const title = `[${host}] ${basename(argv[0]!)}`.slice(0, 120);
    const grace = String(settings.closeGraceMs / 1000);
    this.watchHost(host);
    this.pending.add(dirName);
    let app: App;
    try {
      const r = await runCaptured(
        s,
        ['sh', '-c', LAUNCH, 'tower-app', SUPERVISOR, dirName, String(settings.width), String(settings.height), grace, title, this.deps.pulseServer(host), '--', ...argv],
        30_000,
      );
      const launched = parseLaunch(r.stdout);
      // a program of Tower's own that the host lacks (hostscript LAUNCH's check) is what `host setup` installs
      if (!launched.ok) throw new TowerError('AppFailed', `${host}: ${launched.error}${/^\S+ is not installed on /.test(launched.error) ? `; towerctl host setup ${host} installs what Tower needs there` : ''}`);
      app = this.newApp({ id, host, argv, dirName, hostDir: launched.value.dir, display: launched.value.display, pid: launched.value.pid, startedAt: new Date(), env });
      this.apps.set(id, app);
    } catch (err) {
      if (err instanceof TowerError) throw err;
      throw new TowerError('AppFailed', `cannot start the app on ${host}: ${(err as Error).message}`);
    } finally {
      this.pending.delete(dirName);
    }
    this.deps.log.info({ host, app: id, argv0: argv[0], display: app.display, pid: app.pid }, 'app started');
    try {
      await this.listen(app);
      await this.persist();
      const shown = this.firstFrame(app, settings.startTimeoutMs);
      const decorated = this.spawnViewer(app, 'started');
      await shown;
      await decorated;
    } catch (err) {
      this.deps.log.warn({ host, app: id, err: (err as Error).message }, 'app could not be shown; closing it');
      await this.closeApp(app).catch(() => this.finish(app, null, 'could not be shown'));
      throw err instanceof TowerError ? err : new TowerError('AppFailed', (err as Error).message);
    }
    if (app.state === 'starting') app.state = 'running';
    this.deps.publish({ type: 'app.started', topic: 'apps', app: this.info(app) });
    return { app: this.info(app), firstFrameMs: Math.round(performance.now() - t0) };
  }

  /** Polite close: WM_DELETE_WINDOW to the app's windows, TERM after the grace period, KILL after twice that. */
  async close(id: string): Promise<AppInfo> {
    const app = this.apps.get(id);
    if (!app) throw new TowerError('AppNotFound', `no running app ${id}`);
    this.deps.connected(app.host);
    await this.closeApp(app);
    return this.info(app);
  }

  /** towerd stops: viewers go, apps keep running on their hosts and are reattached by the next towerd. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.persist().catch(() => undefined);
    for (const app of this.apps.values()) {
      this.stopViewer(app);
      await this.unlisten(app);
    }
  }

  /** A host left the registry: its viewers close and towerd forgets its apps (it has no way to reach them now). */
  forgetHost(host: string): void {
    this.attached.delete(host);
    for (const app of [...this.apps.values()].filter((a) => a.host === host)) {
      this.stopViewer(app);
      void this.unlisten(app);
      this.apps.delete(app.id);
      this.deps.log.info({ host, app: app.id }, 'host removed: app forgotten');
    }
    void this.persist().catch(() => undefined);
  }

  // ---- internals ----

  private live(host: string): App[] {
    return [...this.apps.values()].filter((a) => a.host === host && a.state !== 'exited').sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime());
  }

  private newApp(r: { id: string; host: string; argv: string[]; dirName: string; hostDir: string; display: string; pid: number; startedAt: Date; env: ViewerEnv }): App {
    return {
      ...r,
      state: 'starting',
      viewer: 'detached',
      exitCode: null,
      socket: join(this.appsDir, `${r.id}.sock`),
      server: undefined,
      proc: undefined,
      stoppingViewer: false,
      lastEnd: undefined,
      viewerErr: '',
      frameWaiters: [],
      watchers: [],
      wantSize: undefined,
      resizing: false,
      appliedSize: '',
      exitWaiters: [],
      respawns: [],
      conns: new Set(),
    };
  }

  private info(a: App): AppInfo {
    return {
      id: a.id,
      host: a.host,
      argv: a.argv,
      state: a.state,
      viewer: a.viewer,
      display: a.display,
      pid: a.pid,
      hostDir: a.hostDir,
      startedAt: a.startedAt.toISOString(),
      uptimeMs: Date.now() - a.startedAt.getTime(),
      exitCode: a.exitCode,
    };
  }

  private async persist(): Promise<void> {
    const apps = [...this.apps.values()]
      .filter((a) => a.state !== 'exited')
      .map((a) => ({ id: a.id, host: a.host, argv: a.argv, dirName: a.dirName, hostDir: a.hostDir, display: a.display, pid: a.pid, startedAt: a.startedAt.toISOString(), env: a.env }));
    await writeFileAtomic(this.stateFile, JSON.stringify({ next: this.next, apps }));
  }

  /** towerd's end of the viewer: a 0600 Unix socket; each connection is bridged to the app's Xvnc socket on the host. */
  private async listen(app: App): Promise<void> {
    await unlink(app.socket).catch(() => undefined);
    const server = createServer((sock) => this.accept(app, sock));
    server.on('error', (err) => this.deps.log.warn({ app: app.id, err: err.message }, 'viewer socket error'));
    await listenPrivate(server, app.socket);
    app.server = server;
  }

  private async unlisten(app: App): Promise<void> {
    for (const c of app.conns) c.destroy();
    const server = app.server;
    app.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    await unlink(app.socket).catch(() => undefined);
  }

  private accept(app: App, sock: Socket): void {
    sock.on('error', () => undefined);
    const client: Client | undefined = this.deps.supervisor()?.get(app.host)?.connection;
    if (!client || app.state === 'exited') return void sock.destroy();
    app.conns.add(sock);
    let ended: 'viewer' | 'host' | undefined;
    sock.once('close', () => (ended ??= 'viewer'));
    client.openssh_forwardOutStreamLocal(`${app.hostDir}/vnc.sock`, (err, ch) => {
      if (err || sock.destroyed) {
        ch?.destroy();
        sock.destroy();
        app.conns.delete(sock);
        if (err) app.viewerErr = `cannot reach the app's display on ${app.host}: ${err.message}`;
        return;
      }
      this.deps.supervisor()?.get(app.host)?.trackChannel(ch);
      ch.once('close', () => (ended ??= 'host'));
      const watch = new FirstFrameWatch((how) => this.shown(app, how));
      const onData = (b: Buffer) => {
        watch.push(b);
        if (watch.done) ch.off('data', onData);
      };
      ch.on('data', onData);
      splice(sock, ch, { toHost: () => undefined, fromHost: () => undefined }, () => {
        app.conns.delete(sock);
        app.lastEnd = ended;
      });
    });
  }

  private shown(app: App, how: 'update' | 'unparsed'): void {
    this.deps.log.info({ host: app.host, app: app.id, how }, 'viewer showing the app');
    for (const w of app.frameWaiters.splice(0)) w.resolve();
    this.setViewer(app, 'attached', 'first framebuffer update');
  }

  private setViewer(app: App, v: ViewerState, reason: string): void {
    if (app.viewer === v) return;
    app.viewer = v;
    this.deps.publish({ type: 'app.viewer', topic: 'apps', app: this.info(app), viewer: v, reason });
  }

  private firstFrame(app: App, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        app.frameWaiters = app.frameWaiters.filter((w) => w !== waiter);
        reject(new TowerError('AppFailed', `the viewer showed nothing within ${timeoutMs} ms${app.viewerErr ? `: ${app.viewerErr}` : ''}`));
      }, timeoutMs);
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      app.frameWaiters.push(waiter);
    });
  }

  private spawnViewer(app: App, why: string): Promise<void> {
    if (this.stopped || app.proc || app.state === 'exited') return Promise.resolve();
    const argv = viewerArgv(this.deps.settings().desktop.viewer, app.socket);
    app.viewerErr = '';
    app.lastEnd = undefined;
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), { env: viewerEnv(app.env), stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      app.viewerErr = `cannot start the viewer ${argv[0]}: ${(err as Error).message}`;
      for (const w of app.frameWaiters.splice(0)) w.reject(new TowerError('AppFailed', app.viewerErr));
      return Promise.resolve();
    }
    app.proc = child;
    this.deps.log.info({ host: app.host, app: app.id, pid: child.pid, why }, 'viewer started');
    child.stderr!.on('data', (b: Buffer) => {
      app.viewerErr = (app.viewerErr + b.toString('utf8')).slice(-2000);
    });
    child.on('error', (err) => {
      app.viewerErr = `cannot start the viewer ${argv[0]}: ${err.message}`;
    });
    child.on('close', (code, signal) => {
      if (app.proc === child) app.proc = undefined;
      for (const stop of app.watchers.splice(0)) stop();
      const wasStopping = app.stoppingViewer;
      app.stoppingViewer = false;
      this.deps.log.info({ host: app.host, app: app.id, code, signal }, 'viewer exited');
      const tail = app.viewerErr.trim().split('\n').slice(-3).join(' ').slice(0, 500);
      for (const w of app.frameWaiters.splice(0)) w.reject(new TowerError('AppFailed', `the viewer exited before showing the app${tail ? `: ${tail}` : ''}`));
      if (app.state === 'exited' || wasStopping || this.stopped) return;
      this.setViewer(app, 'detached', app.lastEnd === 'host' ? 'the connection to the app ended' : 'the viewer was closed');
      this.enqueue(app.host, () => this.settle(app));
    });
    return this.decorate(app, child);
  }

  /** The viewer's window: class tower-HOST for sway's rules, and its size followed at once (desktop.fastResize). */
  private async decorate(app: App, child: ChildProcess): Promise<void> {
    const s = this.deps.settings().desktop;
    const env = viewerEnv(app.env);
    if (!child.pid || !env.DISPLAY || (!s.viewerClass && !s.fastResize)) return;
    const ids = await windowsOf(child.pid, env, s.startTimeoutMs);
    if (app.proc !== child) return;
    if (s.viewerClass && !(await setWindowClass(ids, `tower-${app.host}`, env))) this.deps.log.warn({ app: app.id }, 'could not set the viewer window class (is xdotool installed?)');
    if (s.fastResize && app.proc === child) for (const id of ids) app.watchers.push(watchWindowSize(id, env, (w, h) => this.resize(app, w, h)));
  }

  /** Resize the app's screen to the viewer's new size now (one resize on the host at a time; the latest size wins). */
  private resize(app: App, w: number, h: number): void {
    if (!this.deps.settings().desktop.fastResize || w < 64 || h < 64 || w > 16384 || h > 16384) return;
    app.wantSize = { w, h };
    if (app.resizing) return;
    app.resizing = true;
    void (async () => {
      try {
        while (app.wantSize && app.state !== 'exited') {
          const want = app.wantSize;
          app.wantSize = undefined;
          const size = `${want.w}x${want.h}`;
          if (size === app.appliedSize) continue;
          const s = this.deps.supervisor()?.get(app.host);
          if (!s?.connection) break;
          const r = await runCaptured(s, ['sh', '-c', CONTROL, 'tower-apps', 'resize', app.dirName, String(want.w), String(want.h)], 5000);
          if (r.code === 0) app.appliedSize = size;
          else this.deps.log.debug({ app: app.id, size, code: r.code, err: r.stderr }, 'resize on the host failed; the viewer’s own request follows');
        }
      } catch (err) {
        this.deps.log.debug({ app: app.id, err: (err as Error).message }, 'resize on the host failed');
      } finally {
        app.resizing = false;
      }
    })();
  }

  private stopViewer(app: App): void {
    if (!app.proc) return;
    app.stoppingViewer = true;
    app.proc.kill('SIGTERM');
  }

  /** The viewer is gone: find out why from the host, and close the app, reattach, or wait for the host. */
  private async settle(app: App): Promise<void> {
    if (app.state === 'exited' || app.state === 'starting') return;
    const s = this.deps.supervisor()?.get(app.host);
    if (!s?.connection) return; // the host is away: reattached when it is back (watchHost)
    const line = await this.hostLine(s, app).catch(() => 'unknown' as const);
    if (line === 'unknown') return;
    if (!line || line.state !== 'running') return this.finish(app, line && line.status !== '-' ? Number(line.status) : null, 'exited');
    if (app.state === 'closing') return;
    if (app.lastEnd === 'host') return this.respawn(app, 'the connection came back');
    // the user closed the viewer window: close the app with it
    this.deps.log.info({ host: app.host, app: app.id }, 'viewer closed: closing the app');
    await this.closeApp(app).catch((err: unknown) => this.deps.log.warn({ app: app.id, err: (err as Error).message }, 'closing the app failed'));
  }

  private respawn(app: App, why: string): void {
    const now = Date.now();
    app.respawns = app.respawns.filter((t) => now - t < RESPAWN_WINDOW_MS);
    if (app.respawns.length >= RESPAWN_MAX) {
      this.deps.log.warn({ host: app.host, app: app.id }, 'the viewer keeps failing; not restarting it until the host reconnects');
      return;
    }
    app.respawns.push(now);
    void this.spawnViewer(app, why);
  }

  private async hostLine(s: HostSession, app: App): Promise<HostAppLine | undefined> {
    const r = await runCaptured(s, ['sh', '-c', CONTROL, 'tower-apps', 'list'], 10_000);
    if (r.code !== 0) throw new Error(`listing apps failed (${r.code})`);
    return parseHostApps(r.stdout).find((l) => l.name === app.dirName);
  }

  private async closeApp(app: App): Promise<void> {
    if (app.state === 'exited') return;
    const s = this.deps.supervisor()?.get(app.host);
    if (!s?.connection) throw new TowerError('HostUnavailable', `${app.host} is not connected`);
    app.state = 'closing';
    const exited = new Promise<void>((r) => app.exitWaiters.push(r));
    await runCaptured(s, ['sh', '-c', CONTROL, 'tower-apps', 'close', app.dirName], 10_000);
    const grace = this.deps.settings().desktop.closeGraceMs;
    const deadline = Date.now() + 2 * grace + 5000;
    const done = () => exitedNow(app);
    while (!done() && Date.now() < deadline) {
      const tick = new Promise((r) => setTimeout(r, 250));
      await Promise.race([exited, tick]);
      if (done()) break;
      const cur = this.deps.supervisor()?.get(app.host);
      if (!cur?.connection) throw new TowerError('HostUnavailable', `${app.host} went away while ${app.id} was closing`);
      const line = await this.hostLine(cur, app).catch(() => 'unknown' as const);
      if (line === 'unknown') continue;
      if (!line || line.state !== 'running') this.finish(app, line && line.status !== '-' ? Number(line.status) : null, 'closed');
    }
    if (!done()) throw new TowerError('AppFailed', `${app.id} did not exit within ${2 * grace + 5000} ms`);
  }

  private finish(app: App, code: number | null, why: string): void {
    if (app.state === 'exited') return;
    app.state = 'exited';
    app.exitCode = code;
    this.stopViewer(app);
    if (app.viewer === 'attached') this.setViewer(app, 'detached', why);
    this.apps.delete(app.id);
    for (const w of app.exitWaiters.splice(0)) w();
    for (const w of app.frameWaiters.splice(0)) w.reject(new TowerError('AppFailed', `the app exited (status ${code ?? 'unknown'})`));
    this.deps.log.info({ host: app.host, app: app.id, code, why }, 'app exited');
    this.deps.publish({ type: 'app.exited', topic: 'apps', app: this.info(app) });
    void this.unlisten(app);
    void this.persist().catch(() => undefined);
    const s = this.deps.supervisor()?.get(app.host);
    if (s?.connection) void runCaptured(s, ['sh', '-c', CONTROL, 'tower-apps', 'clean', app.dirName], 10_000).catch(() => undefined);
  }

  /** Follow a host's connection: each time it is up, reconcile what it runs with what towerd knows. */
  private watchHost(host: string): void {
    const sup = this.deps.supervisor();
    if (!sup || this.attached.has(host)) return;
    this.attached.add(host);
    sup.attach(host, {
      name: 'apps',
      up: () => this.enqueue(host, () => this.reconcile(host)),
      down: () => undefined,
    });
  }

  private enqueue(host: string, fn: () => Promise<void>): void {
    const prev = this.hostQueues.get(host) ?? Promise.resolve();
    const p = prev.then(fn).catch((err: unknown) => this.deps.log.warn({ host, err: (err as Error).message }, 'apps: host check failed'));
    this.hostQueues.set(host, p);
  }

  private async reconcile(host: string): Promise<void> {
    const s = this.deps.supervisor()?.get(host);
    if (!s?.connection || this.stopped) return;
    const r = await runCaptured(s, ['sh', '-c', CONTROL, 'tower-apps', 'list'], 10_000);
    if (r.code !== 0) throw new Error(`listing apps failed (${r.code})`);
    const lines = new Map(parseHostApps(r.stdout).map((l) => [l.name, l]));
    const mine = [...this.apps.values()].filter((a) => a.host === host);
    for (const app of mine) {
      const line = lines.get(app.dirName);
      lines.delete(app.dirName);
      if (app.state === 'starting') continue;
      if (!line || line.state !== 'running') {
        this.finish(app, line && line.status !== '-' ? Number(line.status) : null, 'exited while away');
        continue;
      }
      app.respawns = [];
      if (!app.proc && app.state !== 'closing') void this.spawnViewer(app, 'host is back');
    }
    for (const line of lines.values()) {
      if (this.pending.has(line.name)) continue;
      const verb = line.state === 'running' ? 'discard' : 'clean';
      this.deps.log.info({ host, folder: line.name, state: line.state }, line.state === 'running' ? 'closing an app no towerd knows' : 'removing a finished app folder');
      await runCaptured(s, ['sh', '-c', CONTROL, 'tower-apps', verb, line.name], 10_000);
    }
  }
}
