import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { desktopMarks } from '../../client/bar/present.js';
import { focusedHost, transferText, waylandEnv } from '../../client/commands/clip.js';
import { methods } from '../../protocol/index.js';
import { READ_SCRIPT, WATCH_SCRIPT } from '../../daemon/features/clipboard/host.js';
import { clipboardMode, isUtf8, overCapMessage } from '../../daemon/features/clipboard/service.js';
import { waylandFromEnv } from '../../daemon/features/clipboard/wayland.js';
import { SoundManager, soundMode, soundTarget } from '../../daemon/features/sound/sound.js';
import { Settings } from '../../daemon/core/settings.js';

const settings = (desktop: object) => Settings.parse({ desktop });

describe('desktop settings', () => {
  it('defaults: sound on, clipboard explicit, 1 MiB, PulseAudio’s socket under XDG_RUNTIME_DIR', () => {
    const s = settings({});
    expect(soundMode(s, 'work')).toBe('on');
    expect(clipboardMode(s, 'work')).toBe('explicit');
    expect(s.desktop.clipboardMaxBytes).toBe(1048576);
    expect(soundTarget(s, { XDG_RUNTIME_DIR: '/run/user/1000' })).toEqual({ unix: '/run/user/1000/pulse/native' });
  });

  it('per-host overrides win over the defaults', () => {
    const s = settings({ sound: 'off', clipboard: 'off', hosts: { web: { sound: 'on', clipboard: 'auto' }, mail: { clipboard: 'explicit' } } });
    expect([soundMode(s, 'web'), soundMode(s, 'mail'), soundMode(s, 'x')]).toEqual(['on', 'off', 'off']);
    expect([clipboardMode(s, 'web'), clipboardMode(s, 'mail'), clipboardMode(s, 'x')]).toEqual(['auto', 'explicit', 'off']);
  });

  it('soundServer: a socket path (unix: optional) or loopback TCP, nothing else', () => {
    expect(soundTarget(settings({ soundServer: '/run/pulse/native' }))).toEqual({ unix: '/run/pulse/native' });
    expect(soundTarget(settings({ soundServer: 'unix:/run/pulse/native' }))).toEqual({ unix: '/run/pulse/native' });
    expect(soundTarget(settings({ soundServer: 'tcp:localhost:4713' }))).toEqual({ tcp: { host: '127.0.0.1', port: 4713 } });
    for (const bad of ['tcp:192.168.2.1:4713', 'relative/path', 'tcp:example.com:4713', '']) expect(() => settings({ soundServer: bad }), bad).toThrow();
  });

  it('unknown keys, bad modes and bad host names are errors', () => {
    expect(() => settings({ hosts: { web: { sound: 'loud' } } })).toThrow();
    expect(() => settings({ hosts: { web: { volume: 3 } } })).toThrow();
    expect(() => settings({ hosts: { 'Bad Name': {} } })).toThrow();
    expect(() => settings({ clipboard: 'always' })).toThrow();
    expect(() => settings({ clipboardMaxBytes: 0 })).toThrow();
  });
});

describe('clipboard checks', () => {
  it('UTF-8 only', () => {
    expect(isUtf8(Buffer.from('héllo “x” 🎉'))).toBe(true);
    expect(isUtf8(Buffer.from([0x68, 0xff, 0x69]))).toBe(false);
    expect(isUtf8(Buffer.from([0xc3]))).toBe(false);
  });

  it('the over-cap message gives the size and the cap, and says nothing moved', () => {
    expect(overCapMessage('the clipboard of web :3', 1048577, 1048576)).toBe(
      'the clipboard of web :3 holds 1048577 bytes (1.0 MiB), over the cap of 1048576 bytes (1.0 MiB, desktop.clipboardMaxBytes); nothing was copied',
    );
    expect(overCapMessage('x', 20, 1)).toMatch(/holds 20 bytes or more/);
  });

  it('params: displays and Wayland sessions are checked', () => {
    const copy = methods['clipboard.copy'].params;
    expect(copy.safeParse({ host: 'web', display: ':3' }).success).toBe(true);
    for (const display of ['3', ':3; rm -rf /', ':', 'localhost:3']) expect(copy.safeParse({ host: 'web', display }).success, display).toBe(false);
    expect(copy.safeParse({ host: 'web', wayland: { display: 'wayland-1', runtimeDir: '/run/user/1000' } }).success).toBe(true);
    expect(copy.safeParse({ host: 'web', wayland: { display: '../x y', runtimeDir: '/run' } }).success).toBe(false);
    expect(copy.safeParse({ host: 'web', wayland: { display: 'wayland-1', runtimeDir: 'run' } }).success).toBe(false);
  });

  it('Wayland sessions from an environment', () => {
    expect(waylandFromEnv({ WAYLAND_DISPLAY: 'wayland-1', XDG_RUNTIME_DIR: '/run/user/1' })).toEqual({ display: 'wayland-1', runtimeDir: '/run/user/1' });
    expect(waylandFromEnv({ XDG_RUNTIME_DIR: '/run/user/1' })).toBeUndefined();
    expect(waylandEnv({ WAYLAND_DISPLAY: 'wayland-0', XDG_RUNTIME_DIR: '/run/user/1' })).toEqual({ display: 'wayland-0', runtimeDir: '/run/user/1' });
    expect(waylandEnv({ WAYLAND_DISPLAY: 'wayland-0' })).toBeUndefined();
  });

  it('the host scripts are valid POSIX shell', () => {
    for (const script of [WATCH_SCRIPT, READ_SCRIPT]) {
      const r = spawnSync('sh', ['-n', '-c', script], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
  });
});

describe('clipboard and sound on the client', () => {
  it('the focused sway window’s host comes from its app id or X class tower-HOST', () => {
    const tree = (leaf: object) => ({ nodes: [{ nodes: [{ focused: false, app_id: 'tower-mail' }, { focused: true, ...leaf }] }] });
    expect(focusedHost(tree({ app_id: 'tower-web' }))).toBe('web');
    expect(focusedHost(tree({ app_id: null, window_properties: { class: 'tower-vault' } }))).toBe('vault');
    expect(focusedHost(tree({ app_id: 'foot' }))).toBeUndefined();
    expect(focusedHost(tree({ app_id: 'tower-Evil;rm' }))).toBeUndefined();
    expect(focusedHost({ nodes: [] })).toBeUndefined();
  });

  it('watch lines say who, to whom and how many bytes', () => {
    expect(transferText({ from: { host: 'web', display: ':3' }, to: [{ thinclient: true }], mode: 'explicit', bytes: 12, ok: true })).toBe('clipboard explicit: web :3 → thin client, 12 bytes');
    expect(transferText({ from: { thinclient: true }, to: [{ host: 'web' }], mode: 'auto', bytes: 9, ok: false, reason: 'too big' })).toBe('clipboard auto: thin client → web, 9 bytes REFUSED: too big');
  });

  it('bar marks: only for online hosts; sound down and auto clipboard stand out', () => {
    const h = { name: 'web', role: 'online' as const, color: { code: 31, name: 'Red', hex: '#cd0000' }, rttMs: 1, lastError: null };
    expect(desktopMarks({ ...h, state: 'online', sound: 'on', clipboard: 'explicit' }).map((m) => m.text)).toEqual(['♪', '⎘']);
    expect(desktopMarks({ ...h, state: 'online', sound: 'down', clipboard: 'auto' })).toEqual([
      { text: '♪✖', tone: 'down' },
      { text: '⇄', tone: 'busy' },
    ]);
    expect(desktopMarks({ ...h, state: 'online', sound: 'off', clipboard: 'off' })).toEqual([]);
    expect(desktopMarks({ ...h, state: 'offline', sound: 'down', clipboard: 'auto' })).toEqual([]);
  });
});

describe('SoundManager', () => {
  /** A ForwardManager stand-in: forwards are `active` unless told otherwise. */
  function fakeForwards() {
    const list: { id: string; host: string; state: string; lastError: string | null; connect: unknown }[] = [];
    let n = 0;
    return {
      list: (host?: string) => list.filter((f) => !host || f.host === host),
      open: (p: { host: string; connect: unknown }) => {
        const f = { id: `f${++n}`, host: p.host, state: 'active', lastError: null, connect: p.connect };
        list.push(f);
        return Promise.resolve({ id: f.id });
      },
      close: (id: string) => {
        list.splice(list.findIndex((f) => f.id === id), 1);
        return Promise.resolve();
      },
      raw: list,
    };
  }

  it('one forward per host with sound on, to the configured server; off closes it; states follow', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tower-sound-unit-'));
    const sockPath = join(dir, 'native');
    const server = createServer((c) => c.destroy()).listen(sockPath);
    await new Promise((r) => server.once('listening', r));
    let s = settings({ soundServer: sockPath, hosts: { mail: { sound: 'off' } } });
    const fwd = fakeForwards();
    const changed: string[] = [];
    const m = new SoundManager({ forwards: fwd, hosts: () => ['web', 'mail'], supervising: () => true, settings: () => s, log: pino({ level: 'silent' }), changed: (h) => changed.push(h) });
    try {
      m.start();
      await vi.waitFor(() => expect(m.state('web')).toBe('on'), { timeout: 3000 });
      expect(m.state('mail')).toBe('off');
      expect(fwd.raw.map((f) => [f.host, f.connect])).toEqual([['web', { unix: sockPath }]]);
      expect(changed).toContain('web');
      // the host's listener is gone (host away): down, with the forward's reason
      fwd.raw[0]!.state = 'waiting';
      fwd.raw[0]!.lastError = 'the host is away';
      m.poke();
      await vi.waitFor(() => expect(m.state('web')).toBe('down'), { timeout: 3000 });
      expect(m.error('web')).toBe('the host is away');
      fwd.raw[0]!.state = 'active';
      m.poke();
      await vi.waitFor(() => expect(m.state('web')).toBe('on'), { timeout: 3000 });
      // sound off for web: its forward is closed
      s = settings({ soundServer: sockPath, sound: 'off' });
      m.sync();
      await vi.waitFor(() => expect(m.state('web')).toBe('off'), { timeout: 3000 });
      expect(fwd.raw).toEqual([]);
    } finally {
      await m.stop();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('down while the thin client’s PulseAudio does not answer', async () => {
    const fwd = fakeForwards();
    const s = settings({ soundServer: '/nonexistent/pulse/native' });
    const m = new SoundManager({ forwards: fwd, hosts: () => ['web'], supervising: () => true, settings: () => s, log: pino({ level: 'silent' }), changed: () => undefined });
    try {
      m.start();
      await vi.waitFor(() => expect(fwd.raw).toHaveLength(1), { timeout: 3000 });
      m.poke();
      await vi.waitFor(() => expect(m.error('web')).toMatch(/PulseAudio \(unix:\/nonexistent\/pulse\/native\): ENOENT/), { timeout: 3000 });
      expect(m.state('web')).toBe('down');
    } finally {
      await m.stop();
    }
  });
});
