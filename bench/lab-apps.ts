// `towerctl run` to the viewer's first framebuffer update, against starting the same Xvnc and app over a plain
// `ssh` (with `-L` to the Xvnc socket) and connecting the same viewer. Both viewers draw on one thin-client screen
// (an Xvnc used as a plain X server). Also: how long after a cut cable is restored the viewer shows the app again.
//
// Network safety: towerd, ssh and the viewers run in the lab's thin-client namespace; the rest is Unix sockets.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { TowerClient } from '../client/rpc.js';
import { FirstFrameWatch } from '../daemon/features/apps/rfb.js';
import type { Event } from '../protocol/index.js';
import type { RunningLab } from '../test/lab/lab.js';
import { TOWERCTL, startDaemon } from '../test/helpers/towerd.js';
import { fmtDur, isRoot, median, printNotes, skipped, sleep, spawnBackground, withLab, type LabRow } from './lab-common.js';
import { printRows, type Row } from './stats.js';

const TOOLS = ['Xvnc', 'vncviewer', 'xlogo', 'openbox', 'xprop', 'wmctrl', 'xauth', 'xdotool'];

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, tool)));
}

async function screen(): Promise<{ display: string; proc: ChildProcess }> {
  const proc = spawn('Xvnc', ['-displayfd', '3', '-rfbport', '-1', '-SecurityTypes', 'None', '-geometry', '1600x1000', '-depth', '24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  let fd = '';
  proc.stdio[3]!.on('data', (b: Buffer) => (fd += b.toString()));
  const deadline = Date.now() + 10_000;
  while (!/\d+\n/.test(fd)) {
    if (Date.now() > deadline) throw new Error('the thin-client X server did not start');
    await sleep(20);
  }
  return { display: `:${fd.trim()}`, proc };
}

/** A Unix socket in front of `target` that reports the first FramebufferUpdate going to the viewer. */
function watchingProxy(path: string, target: string, onFrame: () => void): Promise<() => void> {
  return new Promise((resolve) => {
    const server = createServer((sock) => {
      const up = createConnection(target);
      const w = new FirstFrameWatch(() => onFrame());
      up.on('data', (b: Buffer) => w.push(b));
      sock.pipe(up).pipe(sock);
      for (const s of [sock, up]) s.on('error', () => (sock.destroy(), up.destroy()));
    });
    server.listen(path, () => resolve(() => server.close()));
  });
}

/** The baseline once: ssh starts Xvnc and xlogo (no window manager, no supervisor), forwards its socket, a viewer connects. */
async function plainSsh(lab: RunningLab, display: string, dir: string, i: number): Promise<number> {
  const remote = `/tmp/bench-vnc-${i}`;
  const local = join(dir, `ssh-${i}.sock`);
  const front = join(dir, `front-${i}.sock`);
  const script = `mkdir -p -m 700 ${remote} || exit 1
cd ${remote} || exit 1
: >fd
Xvnc -displayfd 3 -rfbunixpath ${remote}/vnc.sock -rfbunixmode 0600 -rfbport -1 -SecurityTypes None -nolisten tcp -geometry 1280x800 -depth 24 3>fd </dev/null >/dev/null 2>&1 &
echo $! >pids
while ! grep -q '[0-9]' fd; do sleep 0.025; done
DISPLAY=:$(tr -dc 0-9 <fd) xlogo </dev/null >/dev/null 2>&1 &
echo $! >>pids
echo ready
cat >/dev/null
kill $(cat pids); rm -rf ${remote}`;
  const t0 = performance.now();
  const ssh = spawnBackground([...lab.tcSpawnPrefix(), 'ssh', '-F', join(lab.home, '.ssh', 'config'), '-L', `${local}:${remote}/vnc.sock`, 'on1', script], {
    env: { ...process.env, HOME: lab.home },
    lifetimeMs: 60_000,
  });
  try {
    await ssh.waitFor(/ready/, 15_000);
    let shown = 0;
    const close = await watchingProxy(front, local, () => (shown ||= performance.now()));
    const viewer = spawnBackground([...lab.tcSpawnPrefix(), 'vncviewer', '-RemoteResize=1', '-AlertOnFatalError=0', '-ReconnectOnError=0', '-MenuKey=', front], {
      env: { PATH: process.env.PATH, HOME: lab.home, DISPLAY: display },
      lifetimeMs: 60_000,
    });
    const deadline = Date.now() + 15_000;
    while (!shown && Date.now() < deadline) await sleep(2);
    await viewer.stop();
    close();
    if (!shown) throw new Error('the baseline viewer showed nothing within 15 s');
    return shown - t0;
  } finally {
    ssh.proc.stdin?.end();
    await Promise.race([ssh.exited, sleep(3000)]);
    await ssh.stop();
  }
}

export async function benchApps(reps = 5): Promise<Row[]> {
  const title = `GUI apps: towerctl run xlogo to the first framebuffer update (${reps} times) against Xvnc + xlogo started by plain ssh -L and the same viewer; a resize of the viewer window until xterm on the host has the new size, against vncviewer's own resize request`;
  if (!isRoot()) return skipped(title, 'needs root (network namespaces, sshd per host)');
  const missing = TOOLS.filter((t) => !onPath(t));
  if (missing.length) return skipped(title, `missing ${missing.join(', ')}`);
  const scr = await screen();
  // also when a signal ends the run (withLab exits the process after tearing the lab down)
  const killScreen = () => scr.proc.kill('SIGTERM');
  process.once('exit', killScreen);
  try {
    return await withLab('a', { online: 1, offline: 0, router: false }, async (lab, { cleanup, scratch }) => {
      const d = await startDaemon({ home: lab.home, spawnPrefix: lab.tcSpawnPrefix() });
      cleanup(() => d.stop());
      const client = await TowerClient.connect(d.socket);
      cleanup(() => client.close());
      const events: { at: number; e: Event }[] = [];
      await client.subscribe(['apps'], (e) => events.push({ at: performance.now(), e }));
      const deadline = Date.now() + 15_000;
      while ((await client.call('status')).hosts.some((h) => h.state !== 'online')) {
        if (Date.now() > deadline) throw new Error('on1 did not come online');
        await sleep(50);
      }
      const dir = scratch('apps');
      const towerd: number[] = [];
      const baseline: number[] = [];
      const reported: number[] = [];
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        const run = spawnBackground([process.execPath, TOWERCTL, 'run', '--json', 'on1', '--', 'xlogo'], { env: { ...d.env, DISPLAY: scr.display }, lifetimeMs: 60_000 });
        const code = await run.exited;
        if (code !== 0) throw new Error(`towerctl run failed (${code}): ${run.stderr()}`);
        towerd.push(performance.now() - t0);
        const r = JSON.parse(run.stdout()) as { app: { id: string }; firstFrameMs: number };
        reported.push(r.firstFrameMs);
        await client.call('apps.close', { id: r.app.id });
        baseline.push(await plainSsh(lab, scr.display, dir, i));
      }
      // resizing the viewer window (as sway does) until the app on the host has the new size: towerd's fast path
      // (xev here, xrandr there) against the viewer's own SetDesktopSize (desktop.fastResize false)
      const follow = { fast: [] as number[], viewer: [] as number[] };
      const { app: term } = await client.call('apps.run', { host: 'on1', argv: ['xterm'], env: { DISPLAY: scr.display } });
      const xenv = { PATH: process.env.PATH, DISPLAY: scr.display };
      const win = await new Promise<string>((resolve) => {
        const p = spawn('xdotool', ['search', '--name', '^\\[on1\\] xterm'], { env: xenv, stdio: ['ignore', 'pipe', 'ignore'] });
        let out = '';
        p.stdout.on('data', (b: Buffer) => (out += b.toString()));
        p.on('close', () => resolve(out.trim().split('\n').pop() ?? ''));
      });
      const sizes = [[900, 600], [1100, 700], [800, 500], [1200, 760], [960, 640]] as const;
      for (const mode of ['fast', 'viewer'] as const) {
        if (mode === 'viewer') {
          writeFileSync(join(d.home, '.config', 'tower', 'towerd.json'), JSON.stringify({ desktop: { fastResize: false } }));
          await client.call('daemon.reload', {});
        }
        for (const [w, h] of sizes) {
          const size = mode === 'viewer' ? `${w + 2}x${h + 2}` : `${w}x${h}`;
          const [ww, hh] = size.split('x');
          // a poller on the host, started before the resize: prints when the app's window has the new size
          const poll = lab.execHost(
            'on1',
            ['env', `DISPLAY=${term.display}`, `XAUTHORITY=${term.hostDir}/Xauthority`, 'sh', '-c', `w=$(xdotool search --pid ${term.pid} | tail -n 1); [ -n "$w" ] || exit 2; end=$(($(date +%s) + 10)); while [ "$(date +%s)" -lt "$end" ]; do g=$(xwininfo -id "$w"); case $g in *"Width: ${ww}"*"Height: ${hh}"*) exit 0 ;; esac; sleep 0.005; done; exit 1`],
            { user: 'tower', timeoutMs: 20_000 },
          );
          await sleep(300);
          const t0 = performance.now();
          spawn('xdotool', ['windowsize', win, ww!, hh!], { env: xenv, stdio: 'ignore' });
          const r = await poll;
          if (r.code !== 0) throw new Error(`the app did not follow a resize to ${size}`);
          follow[mode].push(performance.now() - t0);
        }
      }
      await client.call('apps.close', { id: term.id });
      writeFileSync(join(d.home, '.config', 'tower', 'towerd.json'), '{}');
      await client.call('daemon.reload', {});

      // the viewer back after the host's cable is restored
      const back: number[] = [];
      const { app } = await client.call('apps.run', { host: 'on1', argv: ['xlogo'], env: { DISPLAY: scr.display } });
      for (let i = 0; i < 3; i++) {
        await lab.cut('on1');
        const since = performance.now();
        while (!events.some((x) => x.at >= since && x.e.type === 'app.viewer' && x.e.viewer === 'detached')) await sleep(10);
        const t1 = performance.now();
        await lab.restore('on1');
        const limit = Date.now() + 20_000;
        let hit: number | undefined;
        while (!(hit = events.find((x) => x.at >= t1 && x.e.type === 'app.viewer' && x.e.viewer === 'attached')?.at)) {
          if (Date.now() > limit) throw new Error('the viewer did not come back within 20 s');
          await sleep(5);
        }
        back.push(hit - t1);
      }
      await client.call('apps.close', { id: app.id });
      const v = median(towerd);
      const b = median(baseline);
      const fast = median(follow.fast);
      const slow = median(follow.viewer);
      const rows: LabRow[] = [
        {
          name: 'viewer resized → app resized on the host (median)',
          value: fmtDur(fast),
          baseline: fmtDur(slow),
          ratio: fast / slow,
          target: '≤ 300 ms',
          ok: fast <= 300,
          samples: follow.fast,
          baselineSamples: follow.viewer,
        },
        {
          name: 'towerctl run → first framebuffer update (median)',
          value: fmtDur(v),
          baseline: fmtDur(b),
          ratio: v / b,
          target: '≤ 1.5 s',
          ok: v <= 1500,
          samples: towerd,
          baselineSamples: baseline,
        },
      ];
      printRows(title, rows);
      printNotes([
        `towerctl run samples ${towerd.map((x) => x.toFixed(0)).join(', ')} ms; towerd's own firstFrameMs ${reported.join(', ')} ms`,
        `plain ssh samples ${baseline.map((x) => x.toFixed(0)).join(', ')} ms (no window manager, no lock or supervisor, no cookie)`,
        `cable restored → viewer showing the same app again: ${back.map((x) => x.toFixed(0)).join(', ')} ms`,
        `resize samples ${follow.fast.map((x) => x.toFixed(0)).join(', ')} ms; baseline: vncviewer's own SetDesktopSize (desktop.fastResize false) ${follow.viewer.map((x) => x.toFixed(0)).join(', ')} ms`,
      ]);
      return rows;
    });
  } finally {
    process.off('exit', killScreen);
    killScreen();
  }
}
