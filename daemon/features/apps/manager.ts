import { basename, join } from 'node:path';
import type { AppInfo, AppState, Event, ViewerEnv } from '../../../protocol/index.js';
import type { Logger } from '../../core/log.js';
import type { Registry } from '../../core/registry/registry.js';
import { TowerError } from '../../core/errors.js';
import type { Settings } from '../../core/settings.js';
import type { HostSession } from '../../core/ssh/session.js';
import type { Supervisor } from '../../core/ssh/supervisor.js';
import { ensurePrivateDir } from '../../core/util/fs.js';
import { ViewerBridge } from './bridge.js';
import { controlOnHost, hostOutcome, launchOnHost, listOnHost, outcomeOnHost, resizeOnHost } from './hostops.js';
import { AppRecords, appInfo, type AppRecord } from './records.js';
import { Viewer } from './viewer.js';

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

/** One app: its record, where its life stands, and the two parts that show it here. */
interface App extends AppRecord {
  state: AppState;
  exitCode: number | null;
  readonly bridge: ViewerBridge;
  readonly viewer: Viewer;
  readonly exitWaiters: (() => void)[];
}

/** Read the state afresh (awaits in between change it; a plain comparison would be narrowed away). */
function exitedNow(app: { state: AppState }): boolean {
  return app.state === 'exited';
}

/**
 * GUI apps on hosts: each runs in its own Xvnc on its host under a detached supervisor (hostscript.ts, hostops.ts)
 * and is shown here by a VNC viewer towerd spawns (viewer.ts), connected to a private Unix socket of towerd that is
 * bridged to the app's Xvnc socket over the host's supervised SSH connection (bridge.ts). This class holds the apps'
 * lifecycle: launch, close, exit, and what follows a viewer going or a host coming back.
 */
export class AppManager {
  private readonly apps = new Map<string, App>();
  private readonly records: AppRecords;
  /** app folders being launched: a reconcile running meanwhile must not take them for leftovers */
  private readonly pending = new Set<string>();
  private readonly attached = new Set<string>();
  private readonly hostQueues = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(private readonly deps: AppDeps) {
    this.records = new AppRecords(join(deps.runtimeDir, 'apps.json'));
  }

  private get appsDir(): string {
    return join(this.deps.runtimeDir, 'apps');
  }

  /** Load the records a previous towerd left and watch every host, to reattach or clean up when it is online. */
  async start(): Promise<void> {
    await ensurePrivateDir(this.appsDir);
    try {
      for (const r of await this.records.load()) {
        if (!this.deps.registry.get(r.host)) continue;
        const app = this.newApp(r);
        app.state = 'running';
        this.apps.set(app.id, app);
        await app.bridge.listen();
      }
    } catch {
      // a socket that cannot be bound: the apps not reattached yet are cleaned up as unknown when their host is online
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
    const { id, dirName } = this.records.allocate();
    const title = `[${host}] ${basename(argv[0]!)}`.slice(0, 120);
    this.watchHost(host);
    this.pending.add(dirName);
    let app: App;
    try {
      const at = await launchOnHost(s, host, { dirName, width: settings.width, height: settings.height, closeGraceMs: settings.closeGraceMs, title, pulse: this.deps.pulseServer(host), argv });
      app = this.newApp({ id, host, argv, dirName, hostDir: at.dir, display: at.display, pid: at.pid, startedAt: new Date(), env });
      this.apps.set(id, app);
    } finally {
      this.pending.delete(dirName);
    }
    this.deps.log.info({ host, app: id, argv0: argv[0], display: app.display, pid: app.pid }, 'app started');
    try {
      await app.bridge.listen();
      await this.persist();
      const shown = app.viewer.firstFrame(settings.startTimeoutMs);
      const decorated = app.viewer.start('started');
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
      app.viewer.stop();
      await app.bridge.close();
    }
  }

  /** A host left the registry: its viewers close and towerd forgets its apps (it has no way to reach them now). */
  forgetHost(host: string): void {
    this.attached.delete(host);
    for (const app of [...this.apps.values()].filter((a) => a.host === host)) {
      app.viewer.stop();
      void app.bridge.close();
      this.apps.delete(app.id);
      this.deps.log.info({ host, app: app.id }, 'host removed: app forgotten');
    }
    void this.persist().catch(() => undefined);
  }

  // ---- internals ----

  private live(host: string): App[] {
    return [...this.apps.values()].filter((a) => a.host === host && a.state !== 'exited').sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime());
  }

  private newApp(r: AppRecord): App {
    const socket = join(this.appsDir, `${r.id}.sock`);
    const viewer = new Viewer(r, socket, {
      settings: () => this.deps.settings().desktop,
      log: this.deps.log,
      wanted: () => !this.stopped && !exitedNow(app),
      changed: (v, reason) => this.deps.publish({ type: 'app.viewer', topic: 'apps', app: this.info(app), viewer: v, reason }),
      gone: () => this.enqueue(r.host, () => this.settle(app)),
      resizeHost: (w, h) => {
        const s = this.session(r.host);
        return s && resizeOnHost(s, r.dirName, w, h);
      },
    });
    const bridge = new ViewerBridge(
      socket,
      r,
      {
        session: () => this.deps.supervisor()?.get(r.host),
        open: () => !exitedNow(app),
        shown: (how) => viewer.shown(how),
        ended: (by) => viewer.connectionEnded(by),
        unreachable: (message) => viewer.unreachable(message),
      },
      this.deps.log,
    );
    const app: App = { ...r, state: 'starting', exitCode: null, bridge, viewer, exitWaiters: [] };
    return app;
  }

  private info(a: App): AppInfo {
    return appInfo(a, { state: a.state, viewer: a.viewer.state, exitCode: a.exitCode });
  }

  private persist(): Promise<void> {
    return this.records.save([...this.apps.values()].filter((a) => a.state !== 'exited'));
  }

  /** The host's session while it is connected. */
  private session(host: string): HostSession | undefined {
    const s = this.deps.supervisor()?.get(host);
    return s?.connection ? s : undefined;
  }

  /** The viewer is gone: find out why from the host, and close the app, reattach, or wait for the host. */
  private async settle(app: App): Promise<void> {
    if (app.state === 'exited' || app.state === 'starting') return;
    const s = this.session(app.host);
    if (!s) return; // the host is away: reattached when it is back (watchHost)
    const outcome = await outcomeOnHost(s, app.dirName);
    if (outcome === 'unknown') return;
    if (!outcome.running) return this.finish(app, outcome.code, 'exited');
    if (app.state === 'closing') return;
    if (app.viewer.lostHost) return app.viewer.respawn('the connection came back');
    // the user closed the viewer window: close the app with it
    this.deps.log.info({ host: app.host, app: app.id }, 'viewer closed: closing the app');
    await this.closeApp(app).catch((err: unknown) => this.deps.log.warn({ app: app.id, err: (err as Error).message }, 'closing the app failed'));
  }

  private async closeApp(app: App): Promise<void> {
    if (app.state === 'exited') return;
    const s = this.session(app.host);
    if (!s) throw new TowerError('HostUnavailable', `${app.host} is not connected`);
    app.state = 'closing';
    const exited = new Promise<void>((r) => app.exitWaiters.push(r));
    await controlOnHost(s, 'close', app.dirName);
    const grace = this.deps.settings().desktop.closeGraceMs;
    const deadline = Date.now() + 2 * grace + 5000;
    const done = () => exitedNow(app);
    while (!done() && Date.now() < deadline) {
      const tick = new Promise((r) => setTimeout(r, 250));
      await Promise.race([exited, tick]);
      if (done()) break;
      const cur = this.session(app.host);
      if (!cur) throw new TowerError('HostUnavailable', `${app.host} went away while ${app.id} was closing`);
      const outcome = await outcomeOnHost(cur, app.dirName);
      if (outcome === 'unknown') continue;
      if (!outcome.running) this.finish(app, outcome.code, 'closed');
    }
    if (!done()) throw new TowerError('AppFailed', `${app.id} did not exit within ${2 * grace + 5000} ms`);
  }

  private finish(app: App, code: number | null, why: string): void {
    if (app.state === 'exited') return;
    app.state = 'exited';
    app.exitCode = code;
    app.viewer.stop();
    app.viewer.detach(why);
    this.apps.delete(app.id);
    for (const w of app.exitWaiters.splice(0)) w();
    app.viewer.fail(new TowerError('AppFailed', `the app exited (status ${code ?? 'unknown'})`));
    this.deps.log.info({ host: app.host, app: app.id, code, why }, 'app exited');
    this.deps.publish({ type: 'app.exited', topic: 'apps', app: this.info(app) });
    void app.bridge.close();
    void this.persist().catch(() => undefined);
    const s = this.session(app.host);
    if (s) void controlOnHost(s, 'clean', app.dirName).catch(() => undefined);
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
    const s = this.session(host);
    if (!s || this.stopped) return;
    const lines = await listOnHost(s);
    for (const app of [...this.apps.values()].filter((a) => a.host === host)) {
      const line = lines.get(app.dirName);
      lines.delete(app.dirName);
      if (app.state === 'starting') continue;
      const outcome = hostOutcome(line);
      if (!outcome.running) {
        this.finish(app, outcome.code, 'exited while away');
        continue;
      }
      app.viewer.forgetRespawns();
      if (!app.viewer.running && app.state !== 'closing') void app.viewer.start('host is back');
    }
    for (const line of lines.values()) {
      if (this.pending.has(line.name)) continue;
      const verb = line.state === 'running' ? 'discard' : 'clean';
      this.deps.log.info({ host, folder: line.name, state: line.state }, line.state === 'running' ? 'closing an app no towerd knows' : 'removing a finished app folder');
      await controlOnHost(s, verb, line.name);
    }
  }
}
