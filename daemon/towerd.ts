import { chmod, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RegistryStatus } from '../protocol/index.js';
import { daemonApi } from './api/daemon.js';
import { eventsApi } from './api/events.js';
import { hostsApi } from './api/hosts.js';
import { statusApi } from './api/status.js';
import { forwardsApi } from './api/forwards.js';
import { statsApi } from './api/stats.js';
import { execApi } from './api/exec.js';
import { provisionApi } from './api/provision.js';
import { packagesApi } from './api/packages.js';
import { appsApi } from './api/apps.js';
import { AppManager } from './apps/manager.js';
import { RelayAuditLog } from './packages/audit.js';
import { RelayManager } from './packages/relays.js';
import { ApkUpdateRunner, UpdateScheduler, fileStore } from './packages/updates.js';
import { updatesApi } from './api/updates.js';
import { clipboardApi } from './api/clipboard.js';
import { ClipboardService } from './desktop/clipboard.js';
import { ClipboardAuto } from './desktop/clipboard-auto.js';
import { SoundManager } from './desktop/sound.js';
import { ForwardManager } from './forwards/manager.js';
import type { ApiContext } from './api/context.js';
import { EventHub } from './events.js';
import { HostStates } from './hoststate.js';
import type { LogRing, Logger } from './log.js';
import type { Paths } from './paths.js';
import { Registry, type Host } from './registry/registry.js';
import { watchConfig } from './registry/watch.js';
import { bindMethods } from './rpc/dispatch.js';
import { RpcServer } from './rpc/server.js';
import { loadSettings, DEFAULT_SETTINGS, type Settings } from './settings.js';
import { claimSocket } from './socket.js';
import { Supervisor } from './ssh/supervisor.js';
import type { SessionOptions } from './ssh/session.js';
import { ensurePrivateDir } from './util/fs.js';

export interface TowerdOptions {
  paths: Paths;
  socketPath: string;
  log: Logger;
  ring: LogRing;
  /** log level given on the command line wins over the settings file */
  logLevelFromCli?: string | undefined;
  watch?: boolean;
  /** false: never connect to hosts, whatever towerd.json says (`--no-supervise`) */
  supervise?: boolean;
  /** apps running on a host now: automatic updates never upgrade a host while this is above 0 */
  runningApps?: (host: string) => number;
}

function sessionOptions(s: Settings, knownHostsPath: string): SessionOptions {
  return {
    port: s.ssh.port,
    knownHostsPath,
    connectTimeoutMs: s.ssh.connectTimeoutMs,
    handshakeTimeoutMs: s.ssh.handshakeTimeoutMs,
    keepalive: s.ssh.keepalive,
    backoff: s.ssh.reconnect,
    authRetryMs: s.ssh.authRetryMs,
  };
}

/** The daemon: owns the registry, the host states, the event hub and the RPC server, and nothing else. */
export class Towerd {
  readonly startedAt = new Date();
  readonly states = new HostStates();
  readonly hub = new EventHub();
  readonly registry: Registry;
  private settings: Settings = DEFAULT_SETTINGS;
  private server: RpcServer | undefined;
  private watcher: { close(): Promise<void> } | undefined;
  private stopping = false;
  supervisor: Supervisor | undefined;
  readonly forwards: ForwardManager;
  readonly relayAudit = new RelayAuditLog();
  private apps: AppManager | undefined;
  private sound: SoundManager | undefined;
  private clipboard: ClipboardService | undefined;
  private clipAuto: ClipboardAuto | undefined;
  updates: UpdateScheduler | undefined;

  constructor(private readonly opts: TowerdOptions) {
    this.registry = new Registry(opts.paths, this.settings);
    this.forwards = new ForwardManager(() => this.supervisor, opts.log);
    this.registry.on('changed', (c) => {
      if (!c.status.ok) this.opts.log.error({ error: c.status.error }, 'registry on disk is invalid; keeping the last good one');
      else this.opts.log.info({ hosts: c.hosts.length, added: c.added.map((h) => h.name), removed: c.removed }, 'registry loaded');
      this.supervisor?.sync(c.hosts);
      for (const name of c.removed) {
        void this.forwards.closeHost(name);
        this.apps?.forgetHost(name);
        this.states.delete(name);
        this.hub.publish({ type: 'host.removed', topic: 'hosts', name });
      }
      for (const h of c.added) this.hub.publish({ type: 'host.added', topic: 'hosts', host: this.states.info(h) });
      for (const h of c.updated) this.publishHost(h);
      this.hub.publish({
        type: 'registry.changed',
        topic: 'registry',
        registry: c.status,
        hosts: c.hosts.map((h) => this.states.info(h)),
      });
      // what follows the registry: sound forwards per host, and the update schedule (hosts and their roles)
      this.sound?.sync();
      this.updates?.poke();
    });
    opts.ring.onRecord((record) => {
      if (this.hub.subscriberCount) this.hub.publish({ type: 'log', topic: 'log', record });
    });
  }

  async start(): Promise<void> {
    const { paths, log } = this.opts;
    await ensurePrivateDir(paths.towerDir);
    await ensurePrivateDir(paths.sshDir);
    await mkdir(dirname(paths.settings), { recursive: true, mode: 0o700 });
    await this.loadSettings();
    if (this.opts.supervise !== false && this.settings.supervise) {
      this.supervisor = new Supervisor(sessionOptions(this.settings, paths.knownHosts), log, (host, l, changed) => {
        const stateChanged = this.states.get(host.name).state !== l.state;
        this.states.set(host.name, l);
        if (changed) this.publishHost(host);
        // `changed` also covers a new RTT worth reporting; what rides on the connection cares about its state only
        if (stateChanged) this.updates?.noteState(host.name, l.state === 'online');
        if (stateChanged) this.sound?.poke();
        if (changed && l.state === 'online' && this.registry.get(host.name)?.provisioning) {
          log.info({ host: host.name }, 'first contact with a provisioned host');
          this.registry.clearProvisioning(host.name).catch((err: unknown) => log.error({ host: host.name, err: (err as Error).message }, 'cannot clear the provisioning marker'));
        }
      });
    }
    await this.registry.reload();
    this.supervisor?.sync(this.registry.list());
    this.apps = new AppManager({
      registry: this.registry,
      supervisor: () => this.supervisor,
      settings: () => this.settings,
      publish: (e) => this.hub.publish(e),
      log,
      runtimeDir: dirname(this.opts.socketPath),
    });
    await this.apps.start();
    this.sound = new SoundManager({
      forwards: this.forwards,
      hosts: () => this.registry.list().map((h) => h.name),
      supervising: () => this.supervisor !== undefined,
      settings: () => this.settings,
      log,
      changed: (name) => this.publishHost(name),
    });
    this.clipboard = new ClipboardService({ registry: this.registry, supervisor: () => this.supervisor, settings: () => this.settings, apps: this.apps, log, publish: (e) => this.hub.publish(e) });
    this.clipAuto = new ClipboardAuto(this.clipboard, this.forwards, dirname(this.opts.socketPath));
    const sound = this.sound;
    const clipboard = this.clipboard;
    this.states.setDesktop((name) => ({ sound: sound.state(name), clipboard: clipboard.mode(name) }));
    const ctx: ApiContext = {
      paths,
      socketPath: this.opts.socketPath,
      startedAt: this.startedAt,
      registry: this.registry,
      states: this.states,
      ring: this.opts.ring,
      hub: this.hub,
      log,
      reload: () => this.reload(),
      supervisor: () => this.supervisor,
      forwards: this.forwards,
      settings: () => this.settings,
      relays: new RelayManager(() => this.supervisor, () => this.settings.packages.relay, this.relayAudit, log),
      relayAudit: this.relayAudit,
      updates: () => this.updates,
      rpcConnections: () => this.server?.connections.size ?? 0,
      apps: this.apps,
      clipboard,
      sound,
    };
    if (this.supervisor) {
      const supervisor = this.supervisor;
      this.updates = new UpdateScheduler({
        hosts: () => this.registry.list(),
        connected: (name) => Boolean(supervisor.get(name)?.connection),
        runningApps: this.opts.runningApps ?? ((name) => this.apps?.running(name) ?? 0),
        settings: () => this.settings.packages.updates,
        runner: new ApkUpdateRunner(ctx),
        store: fileStore(paths.hostsDir),
        log,
        changed: (name, updates, summary) => {
          this.states.setUpdates(name, summary);
          const host = this.registry.get(name);
          if (host) this.hub.publish({ type: 'host.updates', topic: 'hosts', host: this.states.info(host), updates });
        },
      });
    }
    const handlers = bindMethods(
      { ...daemonApi(ctx), ...statusApi(ctx), ...hostsApi(ctx), ...eventsApi(ctx), ...forwardsApi(ctx), ...statsApi(ctx), ...execApi(ctx), ...provisionApi(ctx), ...packagesApi(ctx), ...updatesApi(ctx), ...appsApi(ctx), ...clipboardApi(ctx) },
      log,
    );
    this.server = new RpcServer(log, handlers);
    const release = await claimSocket(this.opts.socketPath);
    const oldMask = process.umask(0o177);
    try {
      await this.server.listen(this.opts.socketPath);
    } finally {
      process.umask(oldMask);
      await release();
    }
    await chmod(this.opts.socketPath, 0o600);
    if (this.opts.watch !== false)
      this.watcher = watchConfig(
        paths,
        () => void this.reload(),
        () => this.supervisor?.knownHostsChanged(),
      );
    this.updates?.start();
    this.sound.start();
    this.clipAuto.start();
    log.info({ socket: this.opts.socketPath, hosts: this.registry.list().length }, 'towerd started');
  }

  /** SIGHUP and `daemon.reload`: settings first (networks decide roles), then the registry. */
  async reload(): Promise<RegistryStatus> {
    await this.loadSettings();
    return this.registry.reload();
  }

  /** A host's facts that HostInfo shows changed (connection, registry entry, sound, clipboard mode): tell subscribers. */
  private publishHost(hostOrName: Host | string): void {
    const host = typeof hostOrName === 'string' ? this.registry.get(hostOrName) : hostOrName;
    if (host) this.hub.publish({ type: 'host.state', topic: 'hosts', host: this.states.info(host) });
  }

  private async loadSettings(): Promise<void> {
    const prevDesktop = this.settings.desktop;
    try {
      this.settings = await loadSettings(this.opts.paths.settings);
      this.registry.setSettings(this.settings);
      this.supervisor?.setOptions(sessionOptions(this.settings, this.opts.paths.knownHosts));
      if (!this.opts.logLevelFromCli) this.opts.log.level = this.settings.log.level;
      this.updates?.settingsChanged();
      if (JSON.stringify(prevDesktop) !== JSON.stringify(this.settings.desktop)) {
        this.sound?.sync();
        for (const h of this.registry.list()) this.publishHost(h);
      }
    } catch (err) {
      this.opts.log.error({ error: (err as Error).message }, 'settings are invalid; keeping the previous ones');
    }
  }

  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.opts.log.info({ reason }, 'towerd stopping');
    this.hub.publish({ type: 'daemon.stopping', topic: 'daemon', reason });
    await this.watcher?.close();
    this.updates?.stop();
    await this.apps?.stop();
    await this.clipAuto?.stop();
    await this.sound?.stop();
    await this.forwards.closeAll();
    this.supervisor?.stopAll();
    if (this.server) {
      await this.server.close();
      await unlink(this.opts.socketPath).catch(() => undefined);
    }
  }
}
