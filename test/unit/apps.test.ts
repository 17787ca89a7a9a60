import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FirstFrameWatch } from '../../daemon/features/apps/rfb.js';
import { CONTROL, LAUNCH, SUPERVISOR, parseHostApps, parseLaunch } from '../../daemon/features/apps/hostscript.js';
import { pulseServerFor } from '../../daemon/features/sound/sound.js';
import { viewerArgv, viewerEnv } from '../../daemon/features/apps/viewer.js';
import { appRows, graphicalEnv } from '../../client/commands/apps.js';
import { DEFAULT_SETTINGS, Settings } from '../../daemon/core/settings.js';

function serverInit(name: string): Buffer {
  const b = Buffer.alloc(24 + name.length);
  b.writeUInt16BE(800, 0);
  b.writeUInt16BE(600, 2);
  b.writeUInt32BE(name.length, 20);
  b.write(name, 24, 'latin1');
  return b;
}

function handshake(name = '[on1] xterm'): Buffer {
  return Buffer.concat([Buffer.from('RFB 003.008\n', 'latin1'), Buffer.from([1, 1]), Buffer.alloc(4), serverInit(name)]);
}

describe('FirstFrameWatch (server side of RFB 3.8)', () => {
  it('fires on the first FramebufferUpdate, past fences, bells, cut text and colour maps', () => {
    const fence = Buffer.from([248, 0, 0, 0, 0, 0, 0, 3, 2, 9, 9]);
    const cut = Buffer.concat([Buffer.from([3, 0, 0, 0]), Buffer.from([0, 0, 0, 3]), Buffer.from('abc')]);
    const cmap = Buffer.concat([Buffer.from([1, 0, 0, 0, 0, 1]), Buffer.alloc(6)]);
    const stream = Buffer.concat([handshake(), fence, Buffer.from([2]), cut, cmap, Buffer.from([150]), Buffer.from([0, 0, 0, 1])]);
    for (const chunkSize of [1, 3, 7, stream.length]) {
      const seen: string[] = [];
      const w = new FirstFrameWatch((how) => seen.push(how));
      for (let i = 0; i < stream.length - 4; i += chunkSize) w.push(stream.subarray(i, Math.min(i + chunkSize, stream.length - 4)));
      expect(seen, `chunks of ${chunkSize}`).toEqual([]);
      w.push(stream.subarray(stream.length - 4));
      expect(seen, `chunks of ${chunkSize}`).toEqual(['update']);
      expect(w.done).toBe(true);
    }
  });

  it('does not mistake the desktop name for a message', () => {
    const seen: string[] = [];
    const w = new FirstFrameWatch((how) => seen.push(how));
    w.push(handshake('\0\0\0 name full of zero bytes'));
    expect(seen).toEqual([]);
  });

  it('gives up (counts as shown) on what it cannot parse, and on a refused handshake', () => {
    for (const stream of [Buffer.from('HTTP/1.1 400\r\n\r\n'), Buffer.concat([handshake(), Buffer.from([77])]), Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([0])])]) {
      const seen: string[] = [];
      new FirstFrameWatch((how) => seen.push(how)).push(stream);
      expect(seen).toEqual(['unparsed']);
    }
  });
});

describe('host output parsing', () => {
  it('parses the launcher’s answer and refuses anything else', () => {
    expect(parseLaunch('dir=/tmp/tower-apps-1000/a3-0123abcd\ndisplay=:2\npid=77\n')).toEqual({ ok: true, value: { dir: '/tmp/tower-apps-1000/a3-0123abcd', display: ':2', pid: 77 } });
    expect(parseLaunch('error=xterm: command not found on on1\n')).toEqual({ ok: false, error: 'xterm: command not found on on1' });
    expect(parseLaunch('dir=/etc\ndisplay=:2\npid=77\n').ok).toBe(false);
    expect(parseLaunch('dir=/tmp/tower-apps-1000/a3-0123abcd\ndisplay=:2; rm -rf /\npid=77\n').ok).toBe(false);
    expect(parseLaunch('').ok).toBe(false);
  });

  it('parses list lines and drops malformed ones', () => {
    const out = 'a1-0123abcd\trunning\t-\t:1\t55\t1795438551\na2-89abcdef\texited\t143\t-\t-\t1795438552\nbad line\na3-0123abcd\trunning\t-\t:1; x\t55\t1\n../x\tdead\t-\t-\t-\t-\n';
    expect(parseHostApps(out)).toEqual([
      { name: 'a1-0123abcd', state: 'running', status: '-', display: ':1', pid: '55', started: '1795438551' },
      { name: 'a2-89abcdef', state: 'exited', status: '143', display: '-', pid: '-', started: '1795438552' },
    ]);
  });

  it('the host scripts are valid POSIX sh (checked by sh -n and shellcheck when present)', () => {
    for (const script of [LAUNCH, SUPERVISOR, CONTROL]) {
      const r = spawnSync('sh', ['-n', '-c', script], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const sc = spawnSync('shellcheck', ['-s', 'sh', '-e', 'SC2016,SC2086,SC2015,SC2317', '-'], { input: script, encoding: 'utf8' });
      if (!sc.error) expect(sc.status, sc.stdout).toBe(0);
    }
  });
});

describe('viewer and environment', () => {
  it('puts the socket where {socket} is, or at the end', () => {
    expect(viewerArgv(['vncviewer', '-RemoteResize=1', '{socket}'], '/run/a1.sock')).toEqual(['vncviewer', '-RemoteResize=1', '/run/a1.sock']);
    expect(viewerArgv(['gvncviewer'], '/run/a1.sock')).toEqual(['gvncviewer', '/run/a1.sock']);
  });

  it('towerctl sends only WAYLAND_DISPLAY, DISPLAY and XDG_RUNTIME_DIR; the viewer gets nothing else from it', () => {
    const env = graphicalEnv({ DISPLAY: ':0', WAYLAND_DISPLAY: 'wayland-1', XDG_RUNTIME_DIR: '/run/user/1000', SSH_AUTH_SOCK: '/x', LD_PRELOAD: '/evil.so' });
    expect(env).toEqual({ DISPLAY: ':0', WAYLAND_DISPLAY: 'wayland-1', XDG_RUNTIME_DIR: '/run/user/1000' });
    const v = viewerEnv(env);
    expect(v.LD_PRELOAD).toBeUndefined();
    expect(v).toMatchObject(env);
  });

  it('PULSE_SERVER only when sound is on for the host', () => {
    const with_ = (desktop: object) => Settings.parse({ desktop });
    expect(pulseServerFor(with_({}), 'on1')).toBe('tcp:127.0.0.1:4713');
    expect(pulseServerFor(with_({ sound: 'off' }), 'on1')).toBe('');
    expect(pulseServerFor(with_({ sound: 'off', hosts: { on1: { sound: 'on' } } }), 'on1')).toBe('tcp:127.0.0.1:4713');
    expect(pulseServerFor(with_({ hosts: { on1: { sound: 'off' } } }), 'on1')).toBe('');
  });

  it('desktop settings have defaults and refuse unknown keys', () => {
    expect(DEFAULT_SETTINGS.desktop.viewer[0]).toBe('vncviewer');
    expect(Settings.safeParse({ desktop: { viewr: ['x'] } }).success).toBe(false);
    expect(Settings.safeParse({ desktop: { viewer: [] } }).success).toBe(false);
  });

  it('lists apps with their command quoted as a shell would need it', () => {
    const rows = appRows(
      [{ id: 'a2', host: 'work', argv: ['xterm', '-title', "it's"], state: 'running', viewer: 'attached', display: ':1', pid: 40, hostDir: '/tmp/tower-apps-1/a2-0123abcd', startedAt: new Date(0).toISOString(), uptimeMs: 0, exitCode: null }],
      65_000,
    );
    expect(rows).toMatch(/a2\s+work\s+1m05s\s+running\s+attached\s+:1\s+40\s+xterm -title 'it'\\''s'/);
    expect(appRows([])).toBe('No apps.\n');
  });
});
