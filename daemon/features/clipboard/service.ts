import { createHash } from 'node:crypto';
import { type ErrorCodeName, type ClipboardEnd, type ClipboardMode, type ClipboardTransfer, type Event, type WaylandEnv } from '../../../protocol/index.js';
import type { AppsPort } from '../../core/ports.js';
import type { Logger } from '../../core/log.js';
import type { Registry } from '../../core/registry/registry.js';
import { TowerError } from '../../core/errors.js';
import type { Settings } from '../../core/settings.js';
import type { HostSession } from '../../core/ssh/session.js';
import type { Supervisor } from '../../core/ssh/supervisor.js';
import { bytesText } from '../../shared/bytes.js';
import { discoverDisplays, readFocusedClipboard, writeHostClipboard, type HostDisplay } from './host.js';
import { WaylandError, waylandFromEnv, wlCopy, wlPaste, type WaylandSession } from './wayland.js';

/** `desktop.clipboard` for one host: its override, else the default. */
export function clipboardMode(s: Settings, host: string): ClipboardMode {
  return s.desktop.hosts[host]?.clipboard ?? s.desktop.clipboard;
}

/** Clipboard text must be UTF-8: anything else is refused, not converted. */
export function isUtf8(b: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

export function overCapMessage(what: string, size: number, cap: number): string {
  const more = size > cap * 16 ? ' or more' : '';
  return `${what} holds ${size} bytes${more} (${bytesText(size)}), over the cap of ${cap} bytes (${bytesText(cap)}, desktop.clipboardMaxBytes); nothing was copied`;
}

export const THIN_CLIENT: ClipboardEnd = { thinclient: true };

export interface ClipboardDeps {
  registry: Registry;
  supervisor(): Supervisor | undefined;
  /** the host's session if it is connected now; otherwise the TowerError that says why not */
  connected(name: string): HostSession;
  settings(): Settings;
  apps: Pick<AppsPort, 'displays' | 'displayEnv' | 'watchDisplays'>;
  log: Logger;
  publish(e: Event): void;
}

/**
 * Clipboard transfers between the thin client's Wayland clipboard and hosts' app displays. Text only (UTF-8), up
 * to desktop.clipboardMaxBytes; the text lives in memory for the length of one transfer and is never logged: logs
 * and `clipboard` events carry who, to whom, and how many bytes.
 */
export class ClipboardService {
  private wayland: WaylandSession | undefined;
  /** sha-256 of the last text moved (either way), so that auto mode does not send a text back where it came from */
  lastDigest: string | undefined;
  /** told when a request names another Wayland session than the one known (auto mode watches the new one) */
  sessionChanged: (() => void) | undefined;

  constructor(readonly deps: ClipboardDeps) {}

  mode(host: string): ClipboardMode {
    return clipboardMode(this.deps.settings(), host);
  }

  maxBytes(): number {
    return this.deps.settings().desktop.clipboardMaxBytes;
  }

  /** The Wayland session to use: the one given with this request (remembered), the last one given, or towerd's own. */
  session(given?: WaylandEnv): WaylandSession | undefined {
    if (given) {
      const known = this.wayland;
      this.wayland = given;
      if (known?.display !== given.display || known.runtimeDir !== given.runtimeDir) this.sessionChanged?.();
    }
    return this.wayland ?? waylandFromEnv(process.env);
  }

  requireSession(given?: WaylandEnv): WaylandSession {
    const w = this.session(given);
    if (!w) throw new TowerError('WaylandUnavailable', 'no Wayland session known: run towerctl from the sway session, or start towerd with WAYLAND_DISPLAY set');
    return w;
  }

  /** The host's app displays (AppManager), else the X displays found on the host; most recent first. */
  async displays(s: HostSession, only?: string): Promise<HostDisplay[]> {
    const host = s.host.name;
    const withEnv = (display: string): HostDisplay => ({ display, xauthority: this.deps.apps.displayEnv?.(host, display)?.XAUTHORITY });
    if (only) return [withEnv(only)];
    const apps = this.deps.apps.displays(host);
    if (apps.length) return apps.map(withEnv);
    return (await discoverDisplays(s)).map((display) => ({ display }));
  }

  digest(b: Buffer): string {
    return createHash('sha256').update(b).digest('hex');
  }

  report(t: ClipboardTransfer): void {
    const name = (e: ClipboardEnd) => ('host' in e ? `${e.host}${e.display ? ` ${e.display}` : ''}` : 'thinclient');
    const fields = { from: name(t.from), to: t.to.map(name), mode: t.mode, bytes: t.bytes, ...(t.reason ? { reason: t.reason } : {}) };
    if (t.ok) this.deps.log.info(fields, 'clipboard transfer');
    else this.deps.log.warn(fields, 'clipboard transfer refused');
    this.deps.publish({ type: 'clipboard.transfer', topic: 'clipboard', transfer: t });
  }

  private checkMode(host: string): void {
    if (!this.deps.registry.get(host)) throw new TowerError('HostNotFound', `no host named ${host}`);
    if (this.mode(host) === 'off') throw new TowerError('ClipboardOff', `the clipboard is off for ${host} (desktop.clipboard in towerd.json)`);
  }

  private refuse(t: Omit<ClipboardTransfer, 'ok'>, code: ErrorCodeName, message: string): never {
    this.report({ ...t, ok: false, reason: message });
    throw new TowerError(code, message);
  }

  /** `towerctl clip copy HOST`: the host's focused app display → the thin client's clipboard. */
  async copy(host: string, display: string | undefined, given: WaylandEnv | undefined): Promise<{ host: string; display: string; bytes: number }> {
    this.checkMode(host);
    const w = this.requireSession(given);
    const s = this.deps.connected(host);
    // the app's display when towerd knows it; otherwise the host's most recent X display, found by the same command
    const app = display ?? this.deps.apps.displays(host)[0];
    const known: HostDisplay | undefined = app ? { display: app, xauthority: this.deps.apps.displayEnv?.(host, app)?.XAUTHORITY } : undefined;
    const cap = this.maxBytes();
    let got;
    try {
      got = await readFocusedClipboard(s, known, cap);
    } catch (err) {
      throw new TowerError('HostUnavailable', (err as Error).message);
    }
    if (!got) throw new TowerError('NoDisplay', `${host} has no app display to copy from`);
    const d = { display: got.display };
    const r = got.read;
    const base = { from: { host, display: d.display }, to: [THIN_CLIENT], mode: 'explicit' as const };
    if (!r.ok && r.empty) this.refuse({ ...base, bytes: 0 }, 'ClipboardRefused' as const, `the clipboard of ${host} ${d.display} is empty (or holds no text)`);
    if (!r.ok) this.refuse({ ...base, bytes: r.size }, 'ClipboardRefused' as const, overCapMessage(`the clipboard of ${host} ${d.display}`, r.size, cap));
    if (!isUtf8(r.data)) this.refuse({ ...base, bytes: r.data.length }, 'ClipboardRefused' as const, `the clipboard of ${host} ${d.display} is not UTF-8 text; nothing was copied`);
    await this.toWayland(w, r.data);
    this.lastDigest = this.digest(r.data);
    this.report({ ...base, bytes: r.data.length, ok: true });
    return { host, display: d.display, bytes: r.data.length };
  }

  async toWayland(w: WaylandSession, text: Buffer): Promise<void> {
    try {
      await wlCopy(w, text);
    } catch (err) {
      if (err instanceof WaylandError) throw new TowerError('WaylandUnavailable', err.message);
      throw err;
    }
  }

  /** The thin client's clipboard as checked text, or the refusal's code and message. */
  async fromWayland(w: WaylandSession): Promise<{ ok: true; data: Buffer } | { ok: false; bytes: number; code: ErrorCodeName; message: string }> {
    const cap = this.maxBytes();
    let r;
    try {
      r = await wlPaste(w, cap);
    } catch (err) {
      if (err instanceof WaylandError) throw new TowerError('WaylandUnavailable', err.message);
      throw err;
    }
    if (!r.ok && r.empty) return { ok: false, bytes: 0, code: 'ClipboardRefused', message: 'the thin client’s clipboard is empty (or holds no text)' };
    if (!r.ok) return { ok: false, bytes: r.size, code: 'ClipboardRefused', message: overCapMessage('the thin client’s clipboard', r.size, cap) };
    if (!isUtf8(r.data)) return { ok: false, bytes: r.data.length, code: 'ClipboardRefused', message: 'the thin client’s clipboard is not UTF-8 text; nothing was copied' };
    return { ok: true, data: r.data };
  }

  /** `towerctl clip paste HOST`: the thin client's clipboard → the host's app displays (or one). */
  async paste(host: string, display: string | undefined, given: WaylandEnv | undefined): Promise<{ host: string; displays: string[]; bytes: number }> {
    this.checkMode(host);
    const w = this.requireSession(given);
    const s = this.deps.connected(host);
    const targets = await this.displays(s, display);
    if (!targets.length) throw new TowerError('NoDisplay', `${host} has no app display to paste to`);
    const to = targets.map((d) => ({ host, display: d.display }));
    const r = await this.fromWayland(w);
    if (!r.ok) this.refuse({ from: THIN_CLIENT, to, mode: 'explicit', bytes: r.bytes }, r.code, r.message);
    const done: string[] = [];
    const errors: string[] = [];
    for (const d of targets) {
      try {
        await writeHostClipboard(s, d, r.data);
        done.push(d.display);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    if (!done.length) {
      this.report({ from: THIN_CLIENT, to, mode: 'explicit', bytes: r.data.length, ok: false, reason: errors.join('; ') });
      throw new TowerError('HostUnavailable', errors.join('; '));
    }
    this.lastDigest = this.digest(r.data);
    this.report({ from: THIN_CLIENT, to: done.map((display) => ({ host, display })), mode: 'explicit', bytes: r.data.length, ok: true });
    return { host, displays: done, bytes: r.data.length };
  }
}
