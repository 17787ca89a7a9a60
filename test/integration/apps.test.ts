// GUI apps from hosts, end to end with real programs: Xvnc, matchbox-window-manager, xterm and xlogo on a lab
// host; towerd's TigerVNC viewer on a thin-client screen (another Xvnc, used as a plain X server here);
// screenshots with xwd, input and geometry with xdotool and xwininfo.
import { spawn } from 'node:child_process';
import { existsSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AppInfo, Event } from '../../protocol/index.js';
import { TowerClient } from '../../client/rpc.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { checkScreenshot, countIn, parseXwininfo, readPng, saveScreenshot, screenshot as screenOf, startXScreen, type Rect, type XScreen } from '../helpers/desktop.js';
import { TOWERCTL, run, startDaemon, type RunningDaemon } from '../helpers/towerd.js';
import { until } from '../helpers/until.js';

const root = process.getuid?.() === 0;
const tools = ['Xvnc', 'vncviewer', 'xdotool', 'xwd', 'xwininfo', 'xprop', 'xev', 'xrandr', 'matchbox-window-manager', 'wmctrl', 'xterm', 'xlogo', 'xauth'];
const missing = tools.filter((tool) => !(process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, tool))));

let t: LabDaemon;
let events: TowerClient;
const seen: Event[] = [];
let screen: XScreen | undefined;
let tcDisplay = '';
let workDir = '';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A command on the thin-client screen (no stdin: short-lived X tools may exit before it could be written). */
function onScreenRun(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(args[0]!, args.slice(1), { env: { PATH: process.env.PATH, DISPLAY: tcDisplay }, stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
}

async function onScreen(args: string[]): Promise<string> {
  return (await onScreenRun(args)).stdout;
}

/** A command on the app's host, as the login user, talking to the app's display. */
async function onHost(app: AppInfo, script: string): Promise<{ code: number; stdout: string }> {
  return t.lab.execHost('on1', ['env', `DISPLAY=${app.display}`, `XAUTHORITY=${app.hostDir}/Xauthority`, 'sh', '-c', script], { user: 'tower' });
}

async function towerRun(argv: string[]): Promise<{ app: AppInfo; firstFrameMs: number }> {
  const r = await run(process.execPath, [TOWERCTL, 'run', '--json', 'on1', '--', ...argv], { env: { ...t.d.env, DISPLAY: tcDisplay, NO_COLOR: '1' }, timeoutMs: 30_000 });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { app: AppInfo; firstFrameMs: number };
}

/** The thin-client screen now. */
const screenshot = () => screenOf(tcDisplay);

type Geometry = Rect;

/** The viewer's window on the thin-client screen, found by its title, which starts with [HOST]. */
async function viewerWindow(argv0: string): Promise<string | undefined> {
  const ids = (await onScreen(['xdotool', 'search', '--name', `^\\[on1\\] ${argv0}`])).split('\n').filter(Boolean);
  for (const id of ids) {
    const g = parseXwininfo(await onScreen(['xwininfo', '-id', id]));
    if (g.width > 50) return id;
  }
  return undefined;
}

const isRed = ([r, g, b]: [number, number, number]) => r > 200 && g < 60 && b < 60;

function waitEvent(pred: (e: Event) => boolean, timeoutMs = 15_000, from = 0): Promise<Event> {
  return until('an event', () => seen.slice(from).find(pred), timeoutMs);
}

async function appWindowOnHost(app: AppInfo): Promise<Geometry> {
  const r = await onHost(app, `xwininfo -id "$(xdotool search --pid ${app.pid} | tail -n 1)"`);
  return parseXwininfo(r.stdout);
}

async function alive(pid: number): Promise<boolean> {
  return (await t.lab.execHost('on1', ['kill', '-0', String(pid)], { user: 'tower' })).code === 0;
}

describe.skipIf(!root || missing.length > 0)('GUI apps from hosts (towerctl run)', () => {
  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'tower-apps-test-'));
    // the thin client's screen: an X server (TigerVNC's Xvnc, serving nothing over VNC) the viewer draws on
    screen = await startXScreen({ geometry: '1600x1000' });
    tcDisplay = screen.display;
    t = await labDaemon('g', { online: 1 }, { desktop: { closeGraceMs: 1000 } });
    events = await TowerClient.connect(t.d.socket, { validate: true });
    await events.subscribe(['apps'], (e) => seen.push(e));
  }, 60_000);

  afterAll(async () => {
    events?.close();
    await t?.close();
    await screen?.stop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  // a failed test leaves no app behind for the next one
  afterEach(async () => {
    if (t.d.proc.exitCode !== null || t.d.proc.signalCode !== null) return;
    const { apps } = await t.client.call('apps.list', {});
    for (const a of apps) await t.client.call('apps.close', { id: a.id }).catch(() => undefined);
  });

  it('shows the app’s pixels, a menu beyond its initial frame, and follows a resize of the viewer', async () => {
    // red terminal, menus in their own (light) colours
    const argv = ['xterm', '-geometry', '20x5', '-xrm', 'XTerm*VT100.background: #ff0000'];
    const { app, firstFrameMs } = await towerRun(argv);
    expect(app).toMatchObject({ host: 'on1', argv, state: 'running', viewer: 'attached' });
    expect(app.display).toMatch(/^:\d+$/);
    expect(await alive(app.pid!)).toBe(true);
    expect(firstFrameMs).toBeGreaterThan(0);
    // its environment: its own display and cookie, and PulseAudio through the host's sound forward (desktop.sound on)
    const environ = (await t.lab.execHost('on1', ['sh', '-c', `tr '\\0' '\\n' </proc/${app.pid}/environ`], { user: 'tower' })).stdout.split('\n');
    expect(environ).toEqual(expect.arrayContaining([`DISPLAY=${app.display}`, `XAUTHORITY=${app.hostDir}/Xauthority`, 'PULSE_SERVER=tcp:127.0.0.1:4713']));
    expect(seen.some((e) => e.type === 'app.started' && e.app.id === app.id)).toBe(true);
    // run returned on a real FramebufferUpdate, not on a stream towerd could not follow
    expect(t.d.stderr()).toMatch(new RegExp(`"app":"${app.id}","how":"update"`));

    const list = await run(process.execPath, [TOWERCTL, 'apps'], { env: { ...t.d.env, NO_COLOR: '1' } });
    expect(list.stdout).toMatch(new RegExp(`${app.id}\\s+on1\\s+\\S+\\s+running\\s+attached\\s+${app.display}\\s+${app.pid}\\s+xterm -geometry 20x5 -xrm 'XTerm\\*VT100.background: #ff0000'`));

    // the viewer: title [on1] …, class tower-on1, and the app's red background on the thin client's screen
    const win = await until('the viewer window', () => viewerWindow('xterm'));
    expect(await onScreen(['xprop', '-id', win, 'WM_CLASS', 'WM_NAME'])).toMatch(/WM_CLASS\(STRING\) = "tower-on1", "tower-on1"[\s\S]*WM_NAME\(\w+\) = "\[on1\] xterm/);
    const vg = parseXwininfo(await onScreen(['xwininfo', '-id', win]));
    const shot = await screenshot();
    const red = countIn(shot, vg, isRed);
    expect(red.hits / red.total).toBeGreaterThan(0.5);
    // saved as the demo saves it: a PNG of the whole screen that shows the app (not one colour) where its window is
    const png = join(workDir, 'screen.png');
    saveScreenshot(png, shot, vg);
    expect(checkScreenshot(png)).toMatchObject({ window: vg, width: shot.width, height: shot.height, colours: expect.any(Number) });
    const saved = readPng(png);
    for (const [x, y] of [[vg.x + 5, vg.y + 5], [vg.x + vg.width - 3, vg.y + vg.height - 3], [0, 0]] as const) expect(saved.rgb(x, y)).toEqual(shot.rgb(x, y));

    // the window manager keeps the app maximized: its frame is the whole remote desktop, i.e. the viewer
    const hostGeom = await until('the app maximized', async () => {
      const g = await appWindowOnHost(app);
      return g.width === vg.width && g.height === vg.height ? g : undefined;
    });
    expect(hostGeom).toMatchObject({ x: 0, y: 0 });

    // xterm's main menu (Ctrl + left button) opened far outside the 20x5 frame xterm asked for
    const [mx, my] = [Math.floor(vg.width * 0.6), Math.floor(vg.height * 0.5)];
    const opened = await onHost(app, `xdotool mousemove ${mx} ${my} keydown ctrl mousedown 1 sleep 0.5 && xwininfo -root -children`);
    // the popup is a new top-level window of its own, away from the corner the maximized app frame starts at
    const menuLine = opened.stdout.split('\n').find((l) => /\s\d+x\d+\+\d+\+\d+\s/.test(l) && !/\+0\+0\s/.test(l));
    expect(menuLine, opened.stdout).toBeTruthy();
    const [, mw, mh, mxx, myy] = /(\d+)x(\d+)\+(\d+)\+(\d+)/.exec(menuLine!)!.map(Number) as [number, number, number, number, number];
    expect(mxx).toBeGreaterThan(200); // past the 20x5 characters xterm first asked for
    const menuShot = await until('the menu on the thin client', async () => {
      const s = await screenshot();
      const inMenu = countIn(s, { x: vg.x + mxx + 2, y: vg.y + myy + 2, width: mw - 4, height: mh - 4 }, (p) => !isRed(p), 2);
      return inMenu.hits / inMenu.total > 0.9 ? s : undefined;
    });
    expect(menuShot.width).toBe(shot.width);
    await onHost(app, 'xdotool mouseup 1 keyup ctrl key Escape');

    // the viewer resized (as sway would): the app's desktop and the app follow
    const t0 = performance.now();
    await onScreen(['xdotool', 'windowsize', win, '900', '600']);
    const g2 = await until('the app to follow the resize', async () => {
      const g = await appWindowOnHost(app);
      return g.width === 900 && g.height === 600 ? g : undefined;
    }, 10_000, 10);
    const followMs = performance.now() - t0;
    expect(g2).toMatchObject({ x: 0, y: 0, width: 900, height: 600 });
    await until('the viewer showing the resized desktop', async () => {
      const red = countIn(await screenshot(), { x: vg.x, y: vg.y, width: 900, height: 600 }, isRed);
      return red.hits / red.total > 0.5;
    });
    console.log(`apps: first frame ${firstFrameMs} ms; resize followed in ${followMs.toFixed(0)} ms`);

    const closed = await run(process.execPath, [TOWERCTL, 'close', app.id], { env: t.d.env });
    expect(closed.code, closed.stderr).toBe(0);
    expect(closed.stdout).toMatch(new RegExp(`closed ${app.id}`));
    expect(await alive(app.pid!)).toBe(false);
    await until('the viewer window to go', async () => !(await viewerWindow('xterm')));
  }, 90_000);

  it('closing the viewer window closes the app politely, and nothing is left on the host', async () => {
    const { app } = await towerRun(['xlogo']);
    const win = await until('the viewer window', () => viewerWindow('xlogo'));
    const from = seen.length;
    // a window manager on the thin-client screen for WM_DELETE_WINDOW, as a user's close button sends it
    const wm = spawn('matchbox-window-manager', ['-use_titlebar', 'no', '-kbdconfig', '/dev/null'], { env: { PATH: process.env.PATH, DISPLAY: tcDisplay }, stdio: 'ignore' });
    try {
      await until('the thin-client window manager', async () => (await onScreenRun(['wmctrl', '-m'])).code === 0);
      await onScreen(['wmctrl', '-i', '-c', win]);
      const ev = await waitEvent((e) => e.type === 'app.exited' && e.app.id === app.id, 15_000, from);
      expect(ev.type === 'app.exited' && ev.app.exitCode).toBe(0); // xlogo ends normally on WM_DELETE_WINDOW
      expect(await alive(app.pid!)).toBe(false);
    } finally {
      wm.kill('SIGTERM');
    }
    const left = await until('the app folder to be removed', async () => {
      const r = await t.lab.execHost('on1', ['sh', '-c', 'ls -A /tmp/tower-apps-$(id -u); ls /tmp/.X11-unix'], { user: 'tower' });
      return r.stdout.trim() === '' ? r : undefined;
    });
    expect(left.code).toBe(0);
    const ps = await t.lab.execHost('on1', ['ps', '-eo', 'comm'], { user: 'tower' });
    expect(ps.stdout).not.toMatch(/Xvnc|matchbox|xlogo/);
    const { apps } = await t.client.call('apps.list', {});
    expect(apps.find((a) => a.id === app.id)).toBeUndefined();
  }, 60_000);

  it('the app exiting closes the viewer', async () => {
    const { app } = await towerRun(['xlogo']);
    await until('the viewer window', () => viewerWindow('xlogo'));
    const from = seen.length;
    await t.lab.execHost('on1', ['kill', '-TERM', String(app.pid)], { user: 'tower' });
    const ev = await waitEvent((e) => e.type === 'app.exited' && e.app.id === app.id, 15_000, from);
    expect(ev.type === 'app.exited' && ev.app.exitCode).toBe(143);
    await until('the viewer window to go', async () => !(await viewerWindow('xlogo')));
  }, 60_000);

  it('a host dropping off the network keeps its app; the viewer comes back with it', async () => {
    const { app } = await towerRun(['xterm', '-bg', '#ff0000']);
    await until('the viewer window', () => viewerWindow('xterm'));
    const from = seen.length;
    await t.lab.cut('on1');
    try {
      await waitEvent((e) => e.type === 'app.viewer' && e.app.id === app.id && e.viewer === 'detached', 15_000, from);
      const { apps } = await t.client.call('apps.list', {});
      expect(apps.find((a) => a.id === app.id)).toMatchObject({ state: 'running', viewer: 'detached' });
      await sleep(1000);
    } finally {
      await t.lab.restore('on1');
    }
    await waitEvent((e) => e.type === 'app.viewer' && e.app.id === app.id && e.viewer === 'attached', 20_000, from);
    // the same process on the host, never restarted
    expect(await alive(app.pid!)).toBe(true);
    const pidFile = await t.lab.execHost('on1', ['cat', `${app.hostDir}/pid`], { user: 'tower' });
    expect(Number(pidFile.stdout)).toBe(app.pid);
    const win = await until('the viewer window again', () => viewerWindow('xterm'));
    const vg = parseXwininfo(await onScreen(['xwininfo', '-id', win]));
    await until('the app’s pixels again', async () => {
      const red = countIn(await screenshot(), vg, isRed);
      return red.hits / red.total > 0.5;
    });
    const closed = await t.client.call('apps.close', { id: app.id });
    expect(closed.app.state).toBe('exited');
  }, 90_000);

  it('refuses what it cannot run, with precise errors', async () => {
    const r = await run(process.execPath, [TOWERCTL, 'run', 'on1', '--', 'no-such-program-here'], { env: { ...t.d.env, DISPLAY: tcDisplay } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no-such-program-here: command not found on on1/);
    const noEnv = await run(process.execPath, [TOWERCTL, 'run', 'on1', 'xlogo'], { env: { ...t.d.env, DISPLAY: '', WAYLAND_DISPLAY: '' } });
    expect(noEnv.code).toBe(2);
    expect(noEnv.stderr).toMatch(/DISPLAY or WAYLAND_DISPLAY/);
    const unknown = await run(process.execPath, [TOWERCTL, 'close', 'a999'], { env: t.d.env });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no running app a999/);
    const left = await t.lab.execHost('on1', ['sh', '-c', 'ls -A /tmp/tower-apps-$(id -u)'], { user: 'tower' });
    expect(left.stdout.trim()).toBe('');
  }, 30_000);

  // last: it replaces towerd
  it('after a towerd crash the next towerd reattaches its apps, and closes apps no towerd knows', async () => {
    const { app } = await towerRun(['xterm', '-bg', '#ff0000']);
    await until('the viewer window', () => viewerWindow('xterm'));
    await t.d.stop('SIGKILL');
    // the viewer loses towerd's end and exits; the app stays on its host
    await until('the viewer to go with towerd', async () => !(await viewerWindow('xterm')));
    expect(await alive(app.pid!)).toBe(true);
    let d2: RunningDaemon | undefined;
    let c2: TowerClient | undefined;
    try {
      d2 = await startDaemon({ home: t.lab.home, spawnPrefix: t.lab.tcSpawnPrefix() });
      c2 = await TowerClient.connect(d2.socket, { validate: true });
      const back = await until('the app reattached', async () => (await c2!.call('apps.list', {})).apps.find((a) => a.id === app.id && a.viewer === 'attached'));
      expect(back).toMatchObject({ pid: app.pid, display: app.display, argv: app.argv });
      await until('its viewer window', () => viewerWindow('xterm'));
      c2.close();
      await d2.stop('SIGKILL');
      // a towerd without the records (another machine's, a wiped runtime folder) closes what it does not know
      rmSync(join(d2.env.XDG_RUNTIME_DIR!, 'tower', 'apps.json'));
      d2 = await startDaemon({ home: t.lab.home, spawnPrefix: t.lab.tcSpawnPrefix() });
      c2 = await TowerClient.connect(d2.socket, { validate: true });
      await until('the unknown app closed', async () => !(await alive(app.pid!)), 20_000, 200);
      await until('nothing left on the host', async () => (await t.lab.execHost('on1', ['sh', '-c', 'ls -A /tmp/tower-apps-$(id -u)'], { user: 'tower' })).stdout.trim() === '', 10_000, 200);
      expect((await c2.call('apps.list', {})).apps).toEqual([]);
    } finally {
      c2?.close();
      await d2?.stop();
    }
  }, 90_000);
});
