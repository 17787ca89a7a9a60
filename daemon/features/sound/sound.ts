import { connect } from 'node:net';
import type { Endpoint, SoundState } from '../../../protocol/index.js';
import type { Logger } from '../../core/log.js';
import type { ForwardWatch } from '../../core/forwards/forward.js';
import type { Settings } from '../../core/settings.js';

/** Where a host's apps find PulseAudio: `PULSE_SERVER=tcp:127.0.0.1:4713` on the host. */
export const SOUND_HOST_PORT = 4713;
export const PULSE_SERVER_ON_HOST = `tcp:127.0.0.1:${SOUND_HOST_PORT}`;

/**
 * How often the thin client's PulseAudio is connected to. It is a local socket with nothing that tells towerd when it
 * goes or comes back, so trying it is the only way to know; hosts and their connections are followed through the
 * forwards' watch instead, not by this timer.
 */
const PULSE_PROBE_MS = 5000;
/** A forward that could not be opened is tried again this much later. */
const REOPEN_MS = 5000;

/** `desktop.sound` for one host: its override, else the default. */
export function soundMode(s: Settings, host: string): 'on' | 'off' {
  return s.desktop.hosts[host]?.sound ?? s.desktop.sound;
}

/** PULSE_SERVER for a host's apps: the forward's listener on the host, '' while sound is off for it. */
export function pulseServerFor(settings: Settings, host: string): string {
  return soundMode(settings, host) === 'on' ? PULSE_SERVER_ON_HOST : '';
}

/** The thin client's PulseAudio as a forward target: `desktop.soundServer`, `auto` being $XDG_RUNTIME_DIR/pulse/native. */
export function soundTarget(s: Settings, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const v = s.desktop.soundServer;
  if (v.startsWith('tcp:')) {
    const port = Number(v.slice(v.lastIndexOf(':') + 1));
    return { tcp: { host: '127.0.0.1', port } };
  }
  if (v !== 'auto') return { unix: v.replace(/^unix:/, '') };
  const runtime = env.XDG_RUNTIME_DIR && env.XDG_RUNTIME_DIR.startsWith('/') ? env.XDG_RUNTIME_DIR : `/run/user/${process.getuid?.() ?? 0}`;
  return { unix: `${runtime}/pulse/native` };
}

function targetKey(e: Endpoint): string {
  return 'tcp' in e ? `tcp:${e.tcp.host}:${e.tcp.port}` : `unix:${e.unix}`;
}

/** What SoundManager needs of ForwardManager (forwards come back after every reconnect by themselves). */
export interface SoundForwards {
  open(p: { host: string; direction: 'remote'; listen: Endpoint; connect: Endpoint }, watch?: ForwardWatch): Promise<{ id: string }>;
  close(id: string): Promise<void>;
  list(host?: string): { id: string; state: string; lastError: string | null }[];
}

export interface SoundDeps {
  forwards: SoundForwards;
  /** hosts in the registry */
  hosts(): string[];
  /** false when towerd does not supervise hosts: no forwards then */
  supervising(): boolean;
  settings(): Settings;
  log: Logger;
  /** a host's sound state changed: publish it */
  changed(host: string): void;
}

/**
 * One remote forward per host with sound on, from the host's 127.0.0.1:4713 to the thin client's PulseAudio,
 * shared by all of that host's apps. The forward comes back after every reconnect (ForwardManager) and says so
 * through its watch; this module opens and closes it as settings and the registry change, and reports each host's
 * state: `on`, `off`, or `down` (the host's listener is not bound, or the thin client's PulseAudio does not answer).
 */
export class SoundManager {
  private readonly forwards = new Map<string, { id: string; target: string }>();
  private readonly states = new Map<string, SoundState>();
  private readonly errors = new Map<string, string | null>();
  private pulse: { ok: boolean; error: string | null } = { ok: false, error: 'not checked yet' };
  private pulseAt = 0;
  private pulseTarget = '';
  private timer: NodeJS.Timeout | undefined;
  private reopen: NodeJS.Timeout | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private stopped = false;
  /** a check runs; `again` asks for one more after it, with whatever changed meanwhile */
  private checking = false;
  private again = false;
  /** the forwards' watch: a change of state is a change of the host's sound, a forward gone is opened again */
  private readonly watch: ForwardWatch = {
    changed: () => this.poke(),
    closed: (info) => {
      // closed by hand (`towerctl forward close`) or with its host: open it again if the host still wants sound
      if (this.forwards.get(info.host)?.id !== info.id) return;
      this.forwards.delete(info.host);
      this.sync();
    },
  };

  constructor(private readonly deps: SoundDeps) {}

  start(): void {
    this.timer = setInterval(() => void this.check(true), PULSE_PROBE_MS);
    this.timer.unref();
    this.sync();
  }

  /** Settings or registry changed: open and close forwards to match (serialised). */
  sync(): void {
    if (this.stopped) return;
    this.syncing = this.syncing.then(() => this.reconcile()).catch((err: unknown) => this.deps.log.error({ err: (err as Error).message }, 'sound: cannot update forwards'));
    void this.syncing.then(() => this.poke());
  }

  /** Work the states out again from the forwards (the PulseAudio last seen): something they depend on changed. */
  poke(): void {
    void this.check(false);
  }

  state(host: string): SoundState {
    return this.states.get(host) ?? (soundMode(this.deps.settings(), host) === 'on' ? 'down' : 'off');
  }

  error(host: string): string | null {
    return this.errors.get(host) ?? null;
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    clearTimeout(this.reopen);
    this.reopen = undefined;
    const s = this.deps.settings();
    const target = soundTarget(s);
    const key = targetKey(target);
    const hosts = new Set(this.deps.hosts());
    for (const [host, f] of [...this.forwards]) {
      if (!hosts.has(host) || soundMode(s, host) === 'off' || f.target !== key || !this.deps.supervising()) {
        this.forwards.delete(host);
        await this.deps.forwards.close(f.id).catch(() => undefined);
        this.deps.log.info({ host, forward: f.id }, 'sound forward closed');
      }
    }
    if (!this.deps.supervising()) return;
    for (const host of hosts) {
      if (soundMode(s, host) === 'off') continue;
      const f = this.forwards.get(host);
      if (f && this.deps.forwards.list(host).some((x) => x.id === f.id)) continue;
      try {
        const opened = await this.deps.forwards.open({ host, direction: 'remote', listen: { tcp: { host: '127.0.0.1', port: SOUND_HOST_PORT } }, connect: target }, this.watch);
        this.forwards.set(host, { id: opened.id, target: key });
        this.deps.log.info({ host, forward: opened.id, target: key }, 'sound forward opened');
      } catch (err) {
        this.errors.set(host, (err as Error).message);
        this.deps.log.warn({ host, err: (err as Error).message }, 'sound: cannot open the forward');
        this.reopen ??= setTimeout(() => this.sync(), REOPEN_MS);
      }
    }
  }

  private probePulse(target: Endpoint): Promise<{ ok: boolean; error: string | null }> {
    return new Promise((resolve) => {
      const sock = 'tcp' in target ? connect({ host: target.tcp.host, port: target.tcp.port }) : connect(target.unix);
      const timer = setTimeout(() => done({ ok: false, error: 'the thin client’s PulseAudio does not answer' }), 1000);
      const done = (r: { ok: boolean; error: string | null }) => {
        clearTimeout(timer);
        sock.destroy();
        resolve(r);
      };
      sock.once('connect', () => done({ ok: true, error: null }));
      sock.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, error: `the thin client’s PulseAudio (${targetKey(target)}): ${err.code ?? err.message}` }));
    });
  }

  /** `probe`: connect to the thin client's PulseAudio first; otherwise only when the last answer is old or from another address. */
  private async check(probe: boolean): Promise<void> {
    if (this.stopped) return;
    if (this.checking) {
      this.again = true;
      return;
    }
    this.checking = true;
    try {
      let probing = probe;
      do {
        this.again = false;
        await this.checkNow(probing);
        probing = false;
      } while (this.again && !this.stopped);
    } finally {
      this.checking = false;
    }
  }

  private async checkNow(probe: boolean): Promise<void> {
    const s = this.deps.settings();
    const hosts = this.deps.hosts();
    const target = soundTarget(s);
    const wanted = hosts.some((h) => soundMode(s, h) === 'on');
    const stale = this.pulseTarget !== targetKey(target) || Date.now() - this.pulseAt >= PULSE_PROBE_MS;
    if (wanted && (probe || stale)) {
      const was = this.pulse;
      this.pulse = await this.probePulse(target);
      this.pulseAt = Date.now();
      this.pulseTarget = targetKey(target);
      // the same answer as last time changes no host's state
      if (probe && was.ok === this.pulse.ok && was.error === this.pulse.error) return;
    } else if (probe) return;
    const byId = new Map(this.deps.forwards.list().map((f) => [f.id, f]));
    for (const host of hosts) {
      let next: SoundState = 'off';
      let error: string | null = null;
      if (soundMode(s, host) === 'on') {
        const f = this.forwards.get(host);
        const info = f ? byId.get(f.id) : undefined;
        if (!info) error = this.errors.get(host) ?? (this.deps.supervising() ? 'no forward' : 'towerd does not supervise hosts');
        else if (info.state !== 'active') error = info.lastError ?? 'the host is not connected';
        else if (!this.pulse.ok) error = this.pulse.error;
        next = error ? 'down' : 'on';
      }
      this.errors.set(host, error);
      // compared with what HostInfo showed so far (before the first check: `down` when on, else `off`)
      const shown = this.state(host);
      this.states.set(host, next);
      if (shown !== next) this.deps.changed(host);
    }
    for (const h of [...this.states.keys()]) if (!hosts.includes(h)) this.states.delete(h);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.reopen);
    await this.syncing;
  }
}
