// `npm run demo`: what Tower is for, on a lab of real hosts. towerd runs in the thin-client namespace; an app of the
// offline host shows in a viewer on the thin client's screen (an X server the demo starts when there is none), a
// package reaches that host through the relay, its clipboard crosses on request, its cable is cut and restored.
// Each step prints the towerctl command a user would type. Everything is torn down on exit, on Ctrl-C and on a
// failure half-way. `--keep` waits for Ctrl-C and prints how to reach the lab from a second terminal.
// `--screenshot-check FILE` checks a saved screenshot (the app's window is on it and not blank) and exits.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { AppInfo } from '../../protocol/index.js';
import { APK_ROOT, APK_SETTINGS, CDN_MAIN, apkRepo, type ApkRepo } from '../helpers/apkRepo.js';
import { shellQuote } from '../../daemon/core/util/shell.js';
import { checkScreenshot, coloursIn, parseXwininfo, saveScreenshot, screenshot, startHeadlessSway, startXScreen, type Rect, type Sway, type XScreen } from '../helpers/desktop.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { TOWERCTL, run, tempHome } from '../helpers/towerd.js';
import { helloPackages } from './alpine/repo.js';
import { labDownPrefix, labDownStale } from './lab.js';
import { until } from '../helpers/until.js';

const { values } = parseArgs({
  options: {
    keep: { type: 'boolean' },
    prefix: { type: 'string', default: 'twldemo' },
    screenshot: { type: 'string', default: join(tmpdir(), 'tower-demo-screen.png') },
    'screenshot-check': { type: 'string' },
  },
});

if (values['screenshot-check']) {
  try {
    const r = checkScreenshot(values['screenshot-check']);
    process.stdout.write(`${values['screenshot-check']}: ${r.width}x${r.height}, the app's window ${r.window.width}x${r.window.height}+${r.window.x}+${r.window.y} shows ${r.colours} colours\n`);
    process.exit(0);
  } catch (err) {
    process.stderr.write(`screenshot check failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
if (process.getuid?.() !== 0) {
  process.stderr.write('npm run demo needs root: it builds network namespaces and runs an sshd per host\n');
  process.exit(1);
}
if (!/^twl[a-z0-9]{1,8}$/.test(values.prefix)) {
  process.stderr.write('--prefix: twl followed by 1 to 8 lowercase letters or digits\n');
  process.exit(2);
}

const prefix = values.prefix;
const HOST = 'off1';
const t0 = Date.now();
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const note = (s: string) => out(dim(s));
let stepNo = 0;
const step = (s: string) => out(`\n${bold(`${++stepNo}. ${s}`)}  ${dim(`(${((Date.now() - t0) / 1000).toFixed(1)} s)`)}`);

// Everything started is stopped in reverse order; the lab's own teardown (every process in its namespaces and
// every host init) comes last and also runs when something was half-built.
const home = tempHome('tower-demo-');
const cleanups: { what: string; fn: () => Promise<unknown> }[] = [];
const later = (what: string, fn: () => Promise<unknown>) => cleanups.push({ what, fn });
let tornDown: Promise<void> | undefined;
function teardown(): Promise<void> {
  tornDown ??= (async () => {
    out(`\n${bold('tearing down')}`);
    for (const c of cleanups.reverse()) {
      try {
        await c.fn();
      } catch (err) {
        process.stderr.write(`teardown: ${c.what}: ${(err as Error).message}\n`);
      }
    }
    await labDownPrefix(prefix).catch((err: Error) => process.stderr.write(`teardown: lab: ${err.message}\n`));
    rmSync(home, { recursive: true, force: true });
    const left = (await run('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`${prefix}-`));
    if (left.length) {
      process.stderr.write(`teardown: namespaces left: ${left.join(', ')}\n`);
      process.exitCode = 1;
    } else note(`lab torn down: no ${prefix}-* namespace left (ip netns list), towerd, viewers, X screen and sway stopped`);
  })();
  return tornDown;
}
// Ctrl-C reaches the demo twice (from the terminal and relayed by npm and tsx): only the first one counts, and
// none may end the process before the teardown is done.
const onSignal = (sig: NodeJS.Signals) => {
  if (tornDown) return;
  process.stderr.write(`\n${sig}: stopping\n`);
  void teardown().then(() => process.exit(sig === 'SIGINT' ? 130 : 143));
};
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);

/** The thin client's session: towerctl on PATH, its socket, the X screen and the Wayland session. */
const session: Record<string, string> = {};
const binDir = join(home, 'bin');

/** `$ towerctl ARGS` as a user types it, its output on our terminal; resolves with its exit status. */
function towerctl(args: string[], opts: { show?: string } = {}): Promise<number> {
  out(`$ towerctl ${opts.show ?? args.map(shellQuote).join(' ')}`);
  return new Promise((resolveCode, reject) => {
    const p = spawn(join(binDir, 'towerctl'), args, { env: { ...process.env, ...session }, stdio: ['inherit', 'inherit', 'inherit'] });
    p.once('error', reject);
    p.once('exit', (code, signal) => resolveCode(code ?? (signal ? 128 : 1)));
  });
}

/**
 * On a busy machine towerd can miss a host's keepalive answers for 1.5 s and drop its connection (exit 255: lost
 * during the command, 4: not connected). A command on `host` that fails so runs once more when it is back.
 */
async function again(host: string | undefined, code: number | null): Promise<boolean> {
  if (!host || (code !== 255 && code !== 4) || !t) return false;
  note(`(towerd lost ${host}'s connection: no keepalive answer within 1.5 s on a busy machine; once it is back, again)`);
  await until(`${host} online again`, async () => (await t!.client.call('host.get', { name: host })).state === 'online', 20_000, 100);
  return true;
}

async function mustTowerctl(args: string[], opts: { show?: string; host?: string } = {}): Promise<void> {
  let code = await towerctl(args, opts);
  if (await again(opts.host, code)) code = await towerctl(args, opts);
  if (code !== 0) throw new Error(`towerctl ${args[0]} exited with ${code}`);
}

/** towerctl's output, for the demo to read (not shown). */
async function towerctlOutput(args: string[], opts: { host?: string } = {}): Promise<string> {
  const env = { ...process.env, ...session, NO_COLOR: '1' };
  let r = await run(join(binDir, 'towerctl'), args, { env, timeoutMs: 30_000 });
  if (await again(opts.host, r.code)) r = await run(join(binDir, 'towerctl'), args, { env, timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`towerctl ${args.join(' ')} exited with ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

let t: LabDaemon | undefined;
let exitCode = 0;
try {
  await labDownStale(prefix); // a demo killed with -9 earlier left its lab behind

  step('a lab of real hosts: router, one online and one offline host, towerd on the thin client');
  note('Each host is a real sshd in its own network, PID and mount namespaces; its keys were pinned before it booted.');
  later('towerd', async () => {
    t?.client.close();
    await t?.d.stop();
  });
  t = await labDaemon('demo', { prefix, home, online: 1, offline: 1 }, { packages: APK_SETTINGS, desktop: { sound: 'off' } });
  const lab = t.lab;
  later('lab', () => lab.down());
  mkdirSync(binDir, { recursive: true });
  writeFileSync(join(binDir, 'towerctl'), `#!/bin/sh\nexec '${process.execPath}' '${TOWERCTL}' "$@"\n`);
  chmodSync(binDir, 0o755);
  chmodSync(join(binDir, 'towerctl'), 0o755);
  Object.assign(session, { PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`, TOWER_SOCKET: t.d.socket });
  await mustTowerctl(['status']);

  // the thin client's screen: the user's X display when there is one that towerd's viewer can use (it gets DISPLAY
  // and no X cookie), otherwise an X server of the demo's own
  let screen: XScreen | undefined;
  const userDisplay = process.env.DISPLAY && (await run('xwininfo', ['-root'], { env: { PATH: process.env.PATH, HOME: home, DISPLAY: process.env.DISPLAY }, timeoutMs: 3000 })).code === 0 ? process.env.DISPLAY : undefined;
  if (!userDisplay) {
    screen = await startXScreen({ geometry: '1280x800', spawnPrefix: lab.tcSpawnPrefix() });
    later('X screen', () => screen!.stop());
  }
  const display = userDisplay ?? screen!.display;
  // and its Wayland session, for the clipboard (wl-copy, wl-paste): a headless sway as the lab's login user
  const rt = mkdtempSync(join(tmpdir(), 'tower-demo-rt-'));
  later('Wayland runtime folder', () => Promise.resolve(rmSync(rt, { recursive: true, force: true })));
  const sway: Sway = await startHeadlessSway(lab.tcSpawnPrefix(), rt);
  later('sway', () => sway.stop());
  Object.assign(session, { DISPLAY: display, ...sway.env() });
  note(`The thin client's screen is X display ${display}${userDisplay ? ' (yours)' : ' (an Xvnc of the demo, no network)'}, its Wayland session a headless sway (${sway.waylandDisplay}).`);

  step(`an app of the offline host ${HOST}, shown on the thin client`);
  note(`${HOST} has no route anywhere; its app gets its own X server there (Xvnc), and towerd's viewer shows it here.`);
  const banner = `Hello from $(hostname), the offline host`;
  const appArgv = ['xterm', '-bg', '#fdf6e3', '-fg', '#073642', '-geometry', '72x14', '-xrm', 'XTerm*selectToClipboard: true', '-e', 'sh', '-c', `echo "${banner}"; echo; echo '$ ip route'; ip route; echo; exec sh -i`];
  const started = Date.now();
  out(`$ towerctl run ${HOST} -- ${appArgv.map(shellQuote).join(' ')}`);
  const app = (JSON.parse(await towerctlOutput(['run', '--json', HOST, '--', ...appArgv], { host: HOST })) as { app: AppInfo }).app;
  out(app.id);
  note(`(shown in ${Date.now() - started} ms: ${app.argv[0]} is pid ${app.pid} on ${HOST}, display ${app.display})`);
  const onScreen = async (argv: string[]) => (await run(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH, DISPLAY: display }, timeoutMs: 5000 })).stdout;
  const viewer = async (): Promise<Rect | undefined> => {
    for (const id of (await onScreen(['xdotool', 'search', '--name', `^\\[${HOST}\\] xterm`])).split('\n').filter(Boolean)) {
      const g = parseXwininfo(await onScreen(['xwininfo', '-id', id]));
      if (g.width > 50) return g;
    }
    return undefined;
  };
  await until('the viewer window', viewer);
  // the app drawn in the viewer at its final size: the same geometry twice in a row, and xterm's background and
  // its letters (more than one colour) inside it, in the very screenshot that is saved
  let last: Rect | undefined;
  const { win, shot } = await until('the app drawn in the viewer', async () => {
    const g = await viewer();
    const same = g && last && JSON.stringify(g) === JSON.stringify(last);
    last = g;
    if (!g || !same) return undefined;
    const s = await screenshot(display);
    return coloursIn(s, g) > 1 ? { win: g, shot: s } : undefined;
  }, 15_000, 150);
  const png = resolve(values.screenshot);
  const shown = saveScreenshot(png, shot, win);
  const shotCheck = checkScreenshot(png);
  out(`screenshot of the thin client's screen: ${png}`);
  note(`(the viewer window "[${HOST}] xterm" at ${win.width}x${win.height}+${win.x}+${win.y}; ${shotCheck.colours} colours in its ${shown.width}x${shown.height} on the screen)`);

  step(`a package for ${HOST}, through the package relay`);
  const repo: ApkRepo = await apkRepo(lab, [HOST], helloPackages('1.0-r0'));
  later('package repository', () => repo.stop());
  const stranger = `http://${lab.internetIp}/v3.19/community`;
  await repo.setRepositories(HOST, [CDN_MAIN, stranger]);
  note(`The lab's internet serves a signed Alpine repository as dl-cdn.alpinelinux.org. ${HOST}'s /etc/apk/repositories`);
  note(`also names ${stranger}, a server that is not on the relay's allow-list.`);
  await mustTowerctl(['install', HOST, 'hello'], { host: HOST });
  note('(apk exited with 0: the allow-listed repository was enough)');
  note(`(the lab's apk installs under ${APK_ROOT}, ${HOST}'s own tmpfs, not into the machine's /)`);
  await mustTowerctl(['exec', HOST, '--', `${APK_ROOT}/usr/bin/hello`], { host: HOST });
  await mustTowerctl(['relay', HOST]);
  const audit = JSON.parse(await towerctlOutput(['relay', HOST, '--json'])) as { fetches: number; refusals: number }[];
  if (!(audit[0]!.fetches > 0 && audit[0]!.refusals > 0)) throw new Error(`the relay shows ${audit[0]!.fetches} fetches and ${audit[0]!.refusals} refusals`);

  step(`the clipboard: from ${HOST}'s app to the thin client, only when asked`);
  const appEnv = ['env', `DISPLAY=${app.display}`, `XAUTHORITY=${app.hostDir}/Xauthority`];
  // the user selects the first line in the app (a triple click; xterm puts selections on the clipboard here)
  await lab.execHost(HOST, [...appEnv, 'xdotool', 'mousemove', '40', '8', 'click', '--repeat', '3', '--delay', '60', '1'], { user: 'tower' });
  const expected = `Hello from ${HOST}, the offline host`;
  await until('the line selected in the app', async () => (await lab.execHost(HOST, [...appEnv, 'xclip', '-o', '-selection', 'clipboard'], { user: 'tower' })).stdout.trim() === expected, 5000, 100);
  note(`(the first line of the app's window selected with a triple click on ${HOST})`);
  await mustTowerctl(['clip', 'copy', HOST], { host: HOST });
  out('$ wl-paste');
  const pasted = await lab.execTc(['wl-paste', '--no-newline'], { env: sway.env() });
  out(pasted.stdout);
  if (pasted.stdout.trim() !== expected) throw new Error(`wl-paste gave ${JSON.stringify(pasted.stdout)}, expected ${JSON.stringify(expected)}`);

  step(`${HOST}'s cable cut, then plugged back: the app keeps running and its viewer comes back`);
  await mustTowerctl(['apps']);
  note(`(unplugging ${HOST}: its port leaves the lab's switch)`);
  const cutAt = Date.now();
  await lab.cut(HOST);
  const appState = async () => (await t!.client.call('apps.list', {})).apps.find((a) => a.id === app.id);
  try {
    await until('the viewer detached', async () => (await appState())?.viewer === 'detached', 15_000);
    note(`(towerd saw ${HOST} go after ${Date.now() - cutAt} ms)`);
    await mustTowerctl(['apps']);
  } finally {
    await lab.restore(HOST);
  }
  const restoredAt = Date.now();
  note(`(${HOST} plugged back in)`);
  const back = await until('the viewer attached again', async () => {
    const a = await appState();
    return a?.viewer === 'attached' ? a : undefined;
  }, 20_000);
  await until('the viewer window again', viewer);
  await mustTowerctl(['apps']);
  if (back.pid !== app.pid) throw new Error(`the app came back as pid ${back.pid}, not ${app.pid}`);
  const alive = await lab.execHost(HOST, ['kill', '-0', String(app.pid)], { user: 'tower' });
  if (alive.code !== 0) throw new Error(`pid ${app.pid} is gone from ${HOST}`);
  note(`(back ${Date.now() - restoredAt} ms after the cable: the same process, pid ${app.pid} on ${HOST}, never restarted)`);

  step('the status bar and automatic updates');
  out('$ towerctl bar');
  const bar = await new Promise<string>((resolveLine, reject) => {
    const p = spawn(join(binDir, 'towerctl'), ['bar'], { env: { ...process.env, ...session }, stdio: ['pipe', 'pipe', 'inherit'] });
    let buf = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const line = buf.split('\n').find((l) => l.startsWith('[{'));
      if (line) {
        clearTimeout(timer);
        p.kill('SIGTERM');
        resolveLine(line);
      }
    });
    p.once('exit', () => reject(new Error(`towerctl bar ended without a status line: ${buf}`)));
  }).catch((err: Error) => err.message);
  out(bar.length > 400 ? `${bar.slice(0, 400)}…` : bar);
  note('(one line of swaybar JSON per change: a summary block, then each host in its colour with its round trip)');
  await mustTowerctl(['updates']);

  out(`\n${bold(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`)}; the screenshot stays at ${png}`);
  if (values.keep) {
    const rc = join(home, 'shellrc');
    writeFileSync(
      rc,
      [
        '[ -f /etc/bash.bashrc ] && . /etc/bash.bashrc',
        ...Object.entries(session).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
        `alias ssh=${shellQuote(`ssh -F ${lab.home}/.ssh/config`)}`,
        `PS1='(tower demo thin client) \\w\\$ '`,
        '',
      ].join('\n'),
    );
    out(`\n${bold('the lab stays up until Ctrl-C here.')} From a second terminal, as root, a shell on the thin client:`);
    out(`  nsenter --net=/run/netns/${lab.tcNetns} bash --rcfile ${rc} -i`);
    out('and in it, for example:');
    const examples: [string, string][] = [
      ['towerctl status', ''],
      ['towerctl watch', 'live events; Ctrl-C ends it'],
      [`towerctl run ${HOST} xeyes`, `another app of the offline host, on display ${display}`],
      [`towerctl clip copy ${HOST} --display ${app.display} && wl-paste`, "the xterm's clipboard"],
      [`towerctl relay ${HOST}`, ''],
      [`towerctl ssh ${HOST}`, 'a shell on the offline host'],
      ['ssh router hostname', "plain OpenSSH with the lab's keys (an alias of this shell)"],
    ];
    const width = Math.max(...examples.map(([c]) => c.length)) + 2;
    for (const [c, why] of examples) out(`  ${why ? `${c.padEnd(width)}# ${why}` : c}`);
    out("Ctrl-C here tears it all down (a shell still open on the thin client ends with it).");
    await new Promise(() => undefined);
  }
} catch (err) {
  // after Ctrl-C, the steps still running fail as the lab goes: that is no failure of the demo
  if (tornDown) await new Promise(() => undefined);
  process.stderr.write(`\ndemo failed: ${(err as Error).message}\n`);
  if (t) process.stderr.write(`towerd's last log lines:\n${t.d.stderr().split('\n').slice(-15).join('\n')}\n`);
  exitCode = 1;
} finally {
  await teardown();
}
process.exit(exitCode || Number(process.exitCode ?? 0));
