// `auto` clipboard mode: TowerOS's behaviour (every change moves, both ways, to and from every host in auto mode),
// done over each host's supervised connection, and compatible with a TowerOS host's own services:
// its xclip-watch sends changes to the host's 127.0.0.1:5557, its xclip-copy-server takes text on 127.0.0.1:5556.
import { createServer, type Server, type Socket } from 'node:net';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientChannel, Client as SshClient } from 'ssh2';
import type { ClipboardEnd, Endpoint } from '../../../protocol/index.js';
import { openChannel } from '../../core/exec/run.js';
import { listenPrivate } from '../../core/util/private-socket.js';
import type { ForwardWatch } from '../../core/forwards/forward.js';
import type { Attachment, HostSession } from '../../core/ssh/session.js';
import { THIN_CLIENT, isUtf8, overCapMessage, type ClipboardService } from './service.js';
import { WATCH_SCRIPT, readHostClipboard, writeHostClipboard } from './host.js';
import { wlCopy, wlWatch, type WaylandSession } from './wayland.js';

/** TowerOS's ports on the host's loopback. */
export const TOWEROS_WATCH_PORT = 5557;
export const TOWEROS_COPY_PORT = 5556;
/** Seconds between two looks of the host watcher at each display's clipboard. */
const WATCH_INTERVAL_S = '0.3';
/** A host watcher that ended by itself while its host is connected is started again this much later. */
const WATCHER_RESTART_MS = 1000;
/** The 5557 forward, when it could not be opened, is tried again this much later. */
const REOPEN_MS = 5000;
/** wl-paste --watch, when it stopped, is started again this much later. */
const WAYLAND_RETRY_MS = 2000;
/** A host without TowerOS's clipboard service is asked again after this long (it may start later). */
const COPY_SERVICE_RECHECK_MS = 30_000;
/** Connections to a host's 5557 receiver at the same time; more are refused (TowerOS's xclip-watch sends one at a time). */
export const MAX_RECEIVER_CONNECTIONS = 4;
/** Displays of one host with a read waiting; lines naming more are dropped (an app host has a few). */
const MAX_PENDING_DISPLAYS = 16;
/** The watcher prints display names (`:N`, `:N.S`) and empty heartbeats; a longer line is not one of them. */
const MAX_WATCH_LINE = 16;
const DISPLAY = /^:\d{1,4}(\.\d{1,2})?$/;

interface AutoForwards {
  open(p: { host: string; direction: 'remote'; listen: Endpoint; connect: Endpoint }, watch?: ForwardWatch): Promise<{ id: string }>;
  close(id: string): Promise<void>;
}

interface HostAuto {
  forwardId?: string;
  server?: Server;
  socketPath: string;
  /** rides on the host's connection: `up` starts the watcher, `down` ends it */
  attachment?: Attachment;
  /** the connection the host is up on, from `up` until `down` */
  client?: SshClient;
  watcher?: { args: string; ch?: ClientChannel; ended: boolean };
  restart?: NodeJS.Timeout;
  /** whether the host's 127.0.0.1:5556 answered on this connection (a missing one is looked for again later) */
  copyService?: { present: boolean; at: number };
  /** receiver connections refused since one was last accepted and ended (for one log line, not one per refusal) */
  refused: number;
}

export class ClipboardAuto {
  private readonly hosts = new Map<string, HostAuto>();
  private watch: { session: WaylandSession; handle: { stop(): void } } | undefined;
  private watchRetry: NodeJS.Timeout | undefined;
  private reopen: NodeJS.Timeout | undefined;
  private stopWatchingDisplays: (() => void) | undefined;
  private stopped = false;
  /** reconciles run one after another; at most one waits, and it sees every change made before it starts */
  private reconciling: Promise<void> = Promise.resolve();
  private reconcileWaiting = false;
  /** changes are handled one at a time, in order */
  private queue: Promise<void> = Promise.resolve();
  /**
   * Per host, the displays with a read in the queue that has not started yet: a change reported again meanwhile
   * is already covered by it (a read takes the content as it is then). So each display has at most one read
   * running and one waiting, however many lines a host prints.
   */
  private readonly pendingReads = new Map<string, Set<string>>();
  /** per host, the newest text from its 5557 receiver waiting in the queue (older ones are superseded) */
  private readonly pendingTexts = new Map<string, { from: ClipboardEnd; text: Buffer }>();
  private thinClientPending = false;

  constructor(
    private readonly clip: ClipboardService,
    private readonly forwards: AutoForwards,
    private readonly runtimeDir: string,
  ) {}

  /**
   * Which hosts are in auto mode changes with settings and the registry (the feature calls `reconcile`); each of
   * those hosts is then followed through its connection (an Attachment) and its 5557 forward's watch, its app
   * displays through the apps feature, the Wayland session through the requests that name it. Nothing is polled.
   */
  start(): void {
    this.clip.sessionChanged = () => this.syncWaylandWatch(this.hosts.size > 0);
    this.stopWatchingDisplays = this.clip.deps.apps.watchDisplays?.((host) => {
      const h = this.hosts.get(host);
      if (h?.client) this.runWatcher(host, h);
    });
    void this.reconcile();
  }

  private get log() {
    return this.clip.deps.log;
  }

  private autoHosts(): string[] {
    return this.clip.deps.registry
      .list()
      .map((h) => h.name)
      .filter((n) => this.clip.mode(n) === 'auto');
  }

  private enqueue(fn: () => Promise<void>): void {
    this.queue = this.queue.then(fn).catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'clipboard (auto) failed'));
  }

  /** Settings or the registry changed: start and stop hosts to match the hosts in auto mode. */
  reconcile(): Promise<void> {
    if (this.stopped || this.reconcileWaiting) return this.reconciling;
    this.reconcileWaiting = true;
    this.reconciling = this.reconciling
      .then(() => {
        this.reconcileWaiting = false;
        return this.stopped ? undefined : this.reconcileNow();
      })
      .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'clipboard (auto) failed'));
    return this.reconciling;
  }

  private async reconcileNow(): Promise<void> {
    clearTimeout(this.reopen);
    this.reopen = undefined;
    const sup = this.clip.deps.supervisor();
    const wanted = new Set(sup ? this.autoHosts() : []);
    for (const name of [...this.hosts.keys()]) if (!wanted.has(name)) await this.stopHost(name);
    for (const name of wanted) {
      let h = this.hosts.get(name);
      if (!h) {
        h = { socketPath: join(this.runtimeDir, `clipboard-${name}.sock`), refused: 0 };
        this.hosts.set(name, h);
        await this.startReceiver(name, h);
        h.attachment = this.follow(name, h);
        sup?.attach(name, h.attachment);
      }
      if (!h.forwardId && h.server) {
        try {
          h.forwardId = (await this.forwards.open({ host: name, direction: 'remote', listen: { tcp: { host: '127.0.0.1', port: TOWEROS_WATCH_PORT } }, connect: { unix: h.socketPath } }, this.forwardWatch(h))).id;
        } catch (err) {
          this.log.warn({ host: name, err: (err as Error).message }, 'clipboard (auto): cannot open the 5557 forward');
          this.reopen ??= setTimeout(() => void this.reconcile(), REOPEN_MS);
        }
      }
    }
    this.syncWaylandWatch(wanted.size > 0);
  }

  /** The host's connection, followed: the watcher runs while it is up, and what was learnt about it goes with it. */
  private follow(host: string, h: HostAuto): Attachment {
    return {
      name: `clipboard ${host}`,
      up: (client) => {
        h.client = client;
        h.copyService = undefined;
        this.runWatcher(host, h);
      },
      down: () => {
        h.client = undefined;
        h.copyService = undefined;
        clearTimeout(h.restart);
        if (h.watcher && !h.watcher.ended) this.endWatcher(h.watcher);
      },
    };
  }

  /** The 5557 forward closed by hand (`towerctl forward close`) is opened again while the host is in auto mode. */
  private forwardWatch(h: HostAuto): ForwardWatch {
    return {
      closed: (info) => {
        if (h.forwardId !== info.id) return;
        h.forwardId = undefined;
        void this.reconcile();
      },
    };
  }

  /** Text sent to the host's 127.0.0.1:5557 (TowerOS's xclip-watch) arrives here. */
  private async startReceiver(host: string, h: HostAuto): Promise<void> {
    await unlink(h.socketPath).catch(() => undefined);
    const server = createServer((sock) => this.receive(host, h, sock));
    // each connection may hold up to the clipboard cap in memory until it ends
    server.maxConnections = MAX_RECEIVER_CONNECTIONS;
    server.on('drop', () => {
      if (h.refused++ === 0) this.log.warn({ host, open: MAX_RECEIVER_CONNECTIONS }, `clipboard (auto): refused a connection from ${host}'s 127.0.0.1:${TOWEROS_WATCH_PORT}: ${MAX_RECEIVER_CONNECTIONS} are open`);
    });
    try {
      await listenPrivate(server, h.socketPath);
      h.server = server;
    } catch (err) {
      this.log.warn({ host, err: (err as Error).message }, 'clipboard (auto): cannot listen for the host’s service');
    }
  }

  private receive(host: string, h: HostAuto, sock: Socket): void {
    const cap = this.clip.maxBytes();
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => sock.destroy(), 10_000);
    sock.on('data', (b: Buffer) => {
      if (size <= cap) chunks.push(b);
      size += b.length;
      if (size > cap * 16) sock.destroy();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      if (h.refused > 1) this.log.warn({ host, refused: h.refused - 1 }, `clipboard (auto): refused ${h.refused - 1} more connections from ${host}'s 127.0.0.1:${TOWEROS_WATCH_PORT}`);
      h.refused = 0;
      const from: ClipboardEnd = { host, display: `tcp:${TOWEROS_WATCH_PORT}` };
      if (size > cap) return this.clip.report({ from, to: [THIN_CLIENT], mode: 'auto', bytes: size, ok: false, reason: overCapMessage(`the text from ${host}`, size, cap) });
      if (size === 0) return;
      this.queueText(host, from, Buffer.concat(chunks));
    });
  }

  /** The newest text from a host's receiver; one still waiting is replaced, as a newer copy replaces a clipboard. */
  private queueText(host: string, from: ClipboardEnd, text: Buffer): void {
    const waiting = this.pendingTexts.has(host);
    this.pendingTexts.set(host, { from, text });
    if (waiting) return;
    this.enqueue(async () => {
      const t = this.pendingTexts.get(host);
      this.pendingTexts.delete(host);
      if (t) await this.fromHost(host, t.from, t.text);
    });
  }

  /** A display of a host changed: read it, unless a read of it is already waiting (it will see this change too). */
  private queueRead(s: HostSession, host: string, display: string): void {
    let pending = this.pendingReads.get(host);
    if (!pending) this.pendingReads.set(host, (pending = new Set()));
    if (pending.has(display)) return;
    if (pending.size >= MAX_PENDING_DISPLAYS) return;
    pending.add(display);
    this.enqueue(async () => {
      pending.delete(display);
      await this.hostChanged(s, host, display);
    });
  }

  /** A host's app copied something: into the thin client's clipboard, then to the other hosts in auto mode. */
  private async fromHost(host: string, from: ClipboardEnd, text: Buffer): Promise<void> {
    if (!isUtf8(text)) return this.clip.report({ from, to: [THIN_CLIENT], mode: 'auto', bytes: text.length, ok: false, reason: 'not UTF-8 text' });
    const digest = this.clip.digest(text);
    if (digest === this.clip.lastDigest) return;
    const w = this.clip.session();
    if (!w) return this.clip.report({ from, to: [THIN_CLIENT], mode: 'auto', bytes: text.length, ok: false, reason: 'no Wayland session known' });
    await wlCopy(w, text);
    this.clip.lastDigest = digest;
    this.clip.report({ from, to: [THIN_CLIENT], mode: 'auto', bytes: text.length, ok: true });
    await this.toHosts(text, host);
  }

  /** The thin client's clipboard changed: to every host in auto mode (but the one it came from). */
  private async fromThinClient(): Promise<void> {
    const w = this.clip.session();
    if (!w) return;
    const r = await this.clip.fromWayland(w);
    if (!r.ok) {
      if (r.bytes > 0) this.clip.report({ from: THIN_CLIENT, to: this.autoHosts().map((host) => ({ host })), mode: 'auto', bytes: r.bytes, ok: false, reason: r.message });
      return;
    }
    const digest = this.clip.digest(r.data);
    if (digest === this.clip.lastDigest) return;
    this.clip.lastDigest = digest;
    await this.toHosts(r.data);
  }

  private async toHosts(text: Buffer, except?: string): Promise<void> {
    for (const host of this.autoHosts()) {
      if (host === except) continue;
      const s = this.clip.deps.supervisor()?.get(host);
      const c = s?.connection;
      if (!s || !c) continue;
      try {
        if (await this.hasCopyService(host, c)) {
          await this.sendToService(c, text);
          this.clip.report({ from: THIN_CLIENT, to: [{ host, display: `tcp:${TOWEROS_COPY_PORT}` }], mode: 'auto', bytes: text.length, ok: true });
          continue;
        }
        const displays = await this.clip.displays(s);
        const done: ClipboardEnd[] = [];
        for (const d of displays) {
          await writeHostClipboard(s, d, text);
          done.push({ host, display: d.display });
        }
        if (done.length) this.clip.report({ from: THIN_CLIENT, to: done, mode: 'auto', bytes: text.length, ok: true });
      } catch (err) {
        this.clip.report({ from: THIN_CLIENT, to: [{ host }], mode: 'auto', bytes: text.length, ok: false, reason: (err as Error).message });
      }
    }
  }

  private hasCopyService(host: string, c: SshClient): Promise<boolean> {
    const h = this.hosts.get(host);
    const known = h?.copyService;
    if (known && (known.present || Date.now() - known.at < COPY_SERVICE_RECHECK_MS)) return Promise.resolve(known.present);
    return new Promise((resolve) => {
      c.forwardOut('127.0.0.1', 0, '127.0.0.1', TOWEROS_COPY_PORT, (err, ch) => {
        const present = !err;
        if (ch) ch.close();
        // an answer from a connection that went meanwhile says nothing about the next one
        if (h && h.client === c) h.copyService = { present, at: Date.now() };
        resolve(present);
      });
    });
  }

  private sendToService(c: SshClient, text: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      c.forwardOut('127.0.0.1', 0, '127.0.0.1', TOWEROS_COPY_PORT, (err, ch) => {
        if (err) return reject(new Error(`the host’s clipboard service on 127.0.0.1:${TOWEROS_COPY_PORT} refused: ${err.message}`));
        ch.on('data', () => undefined);
        ch.once('close', () => resolve());
        ch.end(text);
      });
    });
  }

  /** The host watcher: one long-lived command per host in auto mode (one of its session slots, on purpose). */
  private runWatcher(host: string, h: HostAuto): void {
    clearTimeout(h.restart);
    h.restart = undefined;
    const s = this.clip.deps.supervisor()?.get(host);
    if (!s || !h.client || this.stopped) return;
    const displays = this.clip.deps.apps.displays(host).map((d) => {
      const xa = this.clip.deps.apps.displayEnv?.(host, d)?.XAUTHORITY;
      return xa && /^\/[^\s=]+$/.test(xa) ? `${d}=${xa}` : d;
    });
    const args = displays.join(' ');
    const w = h.watcher;
    if (w && !w.ended && w.args === args) return;
    if (w && !w.ended) this.endWatcher(w);
    const watcher: NonNullable<HostAuto['watcher']> = { args, ended: false };
    h.watcher = watcher;
    void this.watchHost(s, host, h, watcher, displays);
  }

  private async watchHost(s: HostSession, host: string, h: HostAuto, watcher: NonNullable<HostAuto['watcher']>, displays: string[]): Promise<void> {
    try {
      await s.withSessionSlot(async () => {
        if (watcher.ended || this.stopped) return;
        const ch = await openChannel(s, ['sh', '-c', WATCH_SCRIPT, 'sh', WATCH_INTERVAL_S, ...displays], undefined);
        s.trackChannel(ch);
        watcher.ch = ch;
        // at most MAX_WATCH_LINE bytes of a line are held; a longer one is skipped to its end
        let partial = '';
        let skipping = false;
        let warned = false;
        const bad = (): void => {
          if (warned) return;
          warned = true;
          this.log.warn({ host }, 'clipboard (auto): the host watcher printed a line that is not a display name; such lines are ignored');
        };
        const line = (text: string): void => {
          const t = text.trim();
          if (t === '') return; // the heartbeat
          if (DISPLAY.test(t)) this.queueRead(s, host, t);
          else bad();
        };
        ch.on('data', (b: Buffer) => {
          const text = b.toString('latin1');
          let start = 0;
          for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
            const piece = text.slice(start, nl);
            start = nl + 1;
            if (skipping || partial.length + piece.length > MAX_WATCH_LINE) bad();
            else line(partial + piece);
            partial = '';
            skipping = false;
          }
          if (skipping) return;
          const rest = text.slice(start);
          if (partial.length + rest.length > MAX_WATCH_LINE) {
            skipping = true;
            partial = '';
          } else partial += rest;
        });
        ch.stderr.on('data', () => undefined);
        await new Promise<void>((resolve) => ch.once('close', () => resolve()));
      });
    } catch (err) {
      this.log.warn({ host, err: (err as Error).message }, 'clipboard (auto): the host watcher could not start');
    } finally {
      const byItself = !watcher.ended;
      watcher.ended = true;
      // ended neither with the connection (`down`) nor by towerd: start it again, a little later
      if (byItself && h.watcher === watcher && h.client && this.hosts.get(host) === h && !this.stopped) {
        h.restart = setTimeout(() => this.runWatcher(host, h), WATCHER_RESTART_MS);
      }
    }
  }

  private async hostChanged(s: HostSession, host: string, display: string): Promise<void> {
    if (this.clip.mode(host) !== 'auto' || !s.connection) return;
    const xauthority = this.clip.deps.apps.displayEnv?.(host, display)?.XAUTHORITY;
    const cap = this.clip.maxBytes();
    const from: ClipboardEnd = { host, display };
    const r = await readHostClipboard(s, { display, xauthority }, cap);
    if (!r.ok && r.empty) return;
    if (!r.ok) return this.clip.report({ from, to: [THIN_CLIENT], mode: 'auto', bytes: r.size, ok: false, reason: overCapMessage(`the clipboard of ${host} ${display}`, r.size, cap) });
    await this.fromHost(host, from, r.data);
  }

  private syncWaylandWatch(wanted: boolean): void {
    const w = this.clip.session();
    const same = this.watch && w && this.watch.session.display === w.display && this.watch.session.runtimeDir === w.runtimeDir;
    if (this.watch && (!wanted || !same)) {
      this.watch.handle.stop();
      this.watch = undefined;
    }
    if (!wanted || !w || this.watch || this.watchRetry) return;
    // wl-paste --watch also reports the clipboard as it is when it starts: like TowerOS, that goes to the hosts too
    const handle = wlWatch(
      w,
      () => {
        // one look at the Wayland clipboard waiting is enough, however many changes were reported meanwhile
        if (this.thinClientPending) return;
        this.thinClientPending = true;
        this.enqueue(() => {
          this.thinClientPending = false;
          return this.fromThinClient();
        });
      },
      (why) => {
        if (this.watch?.handle !== handle) return;
        this.watch = undefined;
        this.watchRetry = setTimeout(() => {
          this.watchRetry = undefined;
          this.syncWaylandWatch(this.hosts.size > 0);
        }, WAYLAND_RETRY_MS);
        this.log.warn({ why }, 'clipboard (auto): watching the thin client’s clipboard stopped; retrying');
      },
    );
    this.watch = { session: w, handle };
  }

  private endWatcher(w: NonNullable<HostAuto['watcher']>): void {
    w.ended = true;
    try {
      w.ch?.signal('TERM');
    } catch {
      // the connection is already gone, and the watcher with it
    }
    w.ch?.close();
  }

  private async stopHost(name: string): Promise<void> {
    const h = this.hosts.get(name);
    if (!h) return;
    this.hosts.delete(name);
    clearTimeout(h.restart);
    if (h.attachment) this.clip.deps.supervisor()?.detach(name, h.attachment);
    if (h.watcher && !h.watcher.ended) this.endWatcher(h.watcher);
    const forwardId = h.forwardId;
    h.forwardId = undefined;
    if (forwardId) await this.forwards.close(forwardId).catch(() => undefined);
    if (h.server) {
      h.server.close();
      await unlink(h.socketPath).catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // a reconcile under way may still start a host: stop them all once it is done
    await this.reconciling;
    clearTimeout(this.reopen);
    clearTimeout(this.watchRetry);
    this.stopWatchingDisplays?.();
    this.clip.sessionChanged = undefined;
    this.watch?.handle.stop();
    this.watch = undefined;
    for (const name of [...this.hosts.keys()]) await this.stopHost(name);
  }
}
