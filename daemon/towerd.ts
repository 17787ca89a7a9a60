import { mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { HostInfo, RegistryStatus } from '../protocol/index.js';
import { coreMethods } from './core/api.js';
import { noSuchHost, notSupervised } from './core/errors.js';
import type { Core, Feature, StatusPart } from './core/feature.js';
import { EventHub } from './core/events.js';
import { features, type FeatureOptions } from './features.js';
import { ForwardManager } from './core/forwards/manager.js';
import { HostStates } from './core/hoststate.js';
import type { LogRing, Logger } from './core/log.js';
import type { Paths } from './shared/paths.js';
import { Registry, type Host, type RegistryChange } from './core/registry/registry.js';
import { watchConfig } from './core/registry/watch.js';
import { bindMethods, type Implementation } from './core/rpc/dispatch.js';
import { RpcServer } from './core/rpc/server.js';
import { loadSettings, DEFAULT_SETTINGS, type Settings } from './core/settings.js';
import { claimSocket } from './core/socket.js';
import { Supervisor } from './core/ssh/supervisor.js';
import type { HostSession, SessionOptions } from './core/ssh/session.js';
import { ensurePrivateDir } from './core/util/fs.js';

export interface TowerdOptions extends FeatureOptions {
  paths: Paths;
  socketPath: string;
  log: Logger;
  ring: LogRing;
  /** log level given on the command line wins over the settings file */
  logLevelFromCli?: string | undefined;
  watch?: boolean;
  /** false: never connect to hosts, whatever towerd.json says (`--no-supervise`) */
  supervise?: boolean;
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

/**
 * The daemon: the registry, the supervised connections, host states, events and the RPC server, and a list of
 * features (daemon/features.ts) that it starts, stops and tells about hosts, connections and settings. Nothing here
 * knows what any feature does.
 */
export class Towerd {
  readonly startedAt = new Date();
  readonly states = new HostStates();
  readonly hub = new EventHub();
  readonly registry: Registry;
  readonly forwards: ForwardManager;
  supervisor: Supervisor | undefined;
  private settings: Settings = DEFAULT_SETTINGS;
  private server: RpcServer | undefined;
  private watcher: { close(): Promise<void> } | undefined;
  private stopping = false;
  private list: Feature[] = [];

  constructor(private readonly opts: TowerdOptions) {
    this.registry = new Registry(opts.paths, this.settings);
    this.forwards = new ForwardManager(() => this.supervisor, opts.log);
    this.registry.on('changed', (c) => this.registryChanged(c));
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
      this.supervisor = new Supervisor(sessionOptions(this.settings, paths.knownHosts), log, (host, l, changed) => this.connectionChanged(host, l, changed));
    }
    await this.registry.reload();
    this.supervisor?.sync(this.registry.list());
    const core = this.core();
    this.list = features(core, { runningApps: this.opts.runningApps });
    const methods: Implementation = coreMethods(core);
    for (const f of this.list) {
      for (const name of Object.keys(f.methods)) {
        if (name in methods) throw new Error(`method ${name} is implemented twice (feature ${f.name})`);
      }
      Object.assign(methods, f.methods);
    }
    this.server = new RpcServer(log, bindMethods(methods, log));
    for (const f of this.list) await f.start?.();
    const release = await claimSocket(this.opts.socketPath);
    try {
      await this.server.listen(this.opts.socketPath);
    } finally {
      await release();
    }
    if (this.opts.watch !== false)
      this.watcher = watchConfig(
        paths,
        () => void this.reload(),
        () => this.supervisor?.knownHostsChanged(),
      );
    log.info({ socket: this.opts.socketPath, hosts: this.registry.list().length }, 'towerd started');
  }

  /** What every feature may use (core/feature.ts). */
  private core(): Core {
    const { paths, socketPath, log, ring } = this.opts;
    const supervisor = this.supervisor;
    return {
      paths,
      socketPath,
      runtimeDir: dirname(socketPath),
      startedAt: this.startedAt,
      log,
      ring,
      hub: this.hub,
      registry: this.registry,
      forwards: this.forwards,
      supervisor,
      settings: () => this.settings,
      reload: () => this.reload(),
      connected: (name) => {
        if (!this.registry.get(name)) throw noSuchHost(name);
        if (!supervisor) throw notSupervised();
        return supervisor.connected(name);
      },
      hostInfo: (host) => this.hostInfo(host),
      hostChanged: (name) => this.publishHost(name),
      rpcConnections: () => this.server?.connections.size ?? 0,
      statusParts: () => Object.assign({}, ...this.list.map((f) => f.statusPart?.() ?? {})) as StatusPart,
    };
  }

  /** SIGHUP and `daemon.reload`: settings first (networks decide roles), then the registry. */
  async reload(): Promise<RegistryStatus> {
    await this.loadSettings();
    return this.registry.reload();
  }

  private hostInfo(host: Host): HostInfo {
    let info = this.states.info(host);
    for (const f of this.list) if (f.hostInfo) info = { ...info, ...f.hostInfo(host.name) };
    return info;
  }

  private registryChanged(c: RegistryChange): void {
    const { log } = this.opts;
    if (!c.status.ok) log.error({ error: c.status.error }, 'registry on disk is invalid; keeping the last good one');
    else log.info({ hosts: c.hosts.length, added: c.added.map((h) => h.name), removed: c.removed }, 'registry loaded');
    this.supervisor?.sync(c.hosts);
    for (const f of this.list) f.hostsChanged?.(c);
    for (const name of c.removed) {
      this.states.delete(name);
      this.hub.publish({ type: 'host.removed', topic: 'hosts', name });
    }
    for (const h of c.added) this.hub.publish({ type: 'host.added', topic: 'hosts', host: this.hostInfo(h) });
    for (const h of c.updated) this.publishHost(h);
    this.hub.publish({ type: 'registry.changed', topic: 'registry', registry: c.status, hosts: c.hosts.map((h) => this.hostInfo(h)) });
  }

  /** From the supervisor: `changed` also covers a new RTT worth reporting; features hear of state changes only. */
  private connectionChanged(host: Host, l: HostSession['state'], changed: boolean): void {
    const stateChanged = this.states.get(host.name).state !== l.state;
    this.states.set(host.name, l);
    if (changed) this.publishHost(host);
    if (stateChanged) for (const f of this.list) f.connectionChanged?.(host.name, l.state === 'online');
    if (changed && l.state === 'online' && this.registry.get(host.name)?.provisioning) {
      this.opts.log.info({ host: host.name }, 'first contact with a provisioned host');
      this.registry.clearProvisioning(host.name).catch((err: unknown) => this.opts.log.error({ host: host.name, err: (err as Error).message }, 'cannot clear the provisioning marker'));
    }
  }

  /** A host's facts that HostInfo shows changed (connection, registry entry, a feature's part): tell subscribers. */
  private publishHost(hostOrName: Host | string): void {
    const host = typeof hostOrName === 'string' ? this.registry.get(hostOrName) : hostOrName;
    if (host) this.hub.publish({ type: 'host.state', topic: 'hosts', host: this.hostInfo(host) });
  }

  private async loadSettings(): Promise<void> {
    const prev = this.settings;
    try {
      this.settings = await loadSettings(this.opts.paths.settings);
    } catch (err) {
      this.opts.log.error({ error: (err as Error).message }, 'settings are invalid; keeping the previous ones');
      return;
    }
    this.registry.setSettings(this.settings);
    this.supervisor?.setOptions(sessionOptions(this.settings, this.opts.paths.knownHosts));
    if (!this.opts.logLevelFromCli) this.opts.log.level = this.settings.log.level;
    let infoChanged = false;
    for (const f of this.list) if (f.settingsChanged?.(prev, this.settings)) infoChanged = true;
    if (infoChanged) for (const h of this.registry.list()) this.publishHost(h);
  }

  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.opts.log.info({ reason }, 'towerd stopping');
    this.hub.publish({ type: 'daemon.stopping', topic: 'daemon', reason });
    await this.watcher?.close();
    for (const f of [...this.list].reverse()) await f.stop?.();
    this.supervisor?.stopAll();
    if (this.server) {
      await this.server.close();
      await unlink(this.opts.socketPath).catch(() => undefined);
    }
  }
}
