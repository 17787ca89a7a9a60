// Host copy → thin client's clipboard: `towerctl clip copy HOST` (and the clipboard.copy call alone) against doing
// it by hand with OpenSSH, `ssh HOST xclip -o | wl-copy` (a fresh connection, and one multiplexed on a master
// connection), interleaved round by round in one lab. Real xclip on an Xvfb of the host, real wl-copy/wl-paste on a
// headless sway in the thin-client namespace; every round checks that the text arrived.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TowerClient } from '../client/rpc.js';
import { TOWERCTL, startDaemon } from '../test/helpers/towerd.js';
import type { RunningLab } from '../test/lab/lab.js';
import { fmtDur, isRoot, median, printNotes, skipped, spawnBackground, withLab, type LabRow } from './lab-common.js';
import { printRows } from './stats.js';
import { until } from '../test/helpers/until.js';

const ROUNDS = Number(process.env.CLIP_ROUNDS ?? 20);
const TARGET_MS = 100;

function timed(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.once('error', reject);
    p.once('close', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`\`${argv.join(' ')}\` exited ${code}: ${err}`))));
  });
}

export async function benchClipboard(): Promise<LabRow[]> {
  const title = `Clipboard: host copy → thin client's clipboard (${ROUNDS} rounds, interleaved)`;
  if (!isRoot()) return skipped(title, 'needs root (network namespaces)');
  return withLab('cb', { online: 1, offline: 0, router: false }, async (lab: RunningLab, { cleanup, scratch }) => {
    const d = await startDaemon({ home: lab.home, spawnPrefix: lab.tcSpawnPrefix(), args: ['--log-level', 'warn'] });
    cleanup(() => d.stop());
    const client = await TowerClient.connect(d.socket);
    cleanup(() => client.close());
    await until('on1 online', async () => (await client.call('host.get', { name: 'on1' })).state === 'online', 15_000);

    // sway runs as the lab user, who cannot enter the lab's own (root-only) folder
    const rt = mkdtempSync(join(tmpdir(), 'tower-bench-clip-'));
    cleanup(() => rmSync(rt, { recursive: true, force: true }));
    chownSync(rt, Number(execFileSync('id', ['-u', 'tower'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'tower'], { encoding: 'utf8' })));
    writeFileSync(join(rt, 'sway.conf'), 'xwayland disable\n');
    const sway = spawnBackground([...lab.tcSpawnPrefix(), 'setpriv', '--reuid=tower', '--regid=tower', '--init-groups', '--', 'sway', '-c', join(rt, 'sway.conf')], {
      env: { PATH: process.env.PATH, HOME: rt, XDG_RUNTIME_DIR: rt, WLR_BACKENDS: 'headless', WLR_LIBINPUT_NO_DEVICES: '1', WLR_RENDERER: 'pixman' },
    });
    cleanup(() => sway.stop());
    let display = '';
    await until('sway', () => Boolean((display = readdirSync(rt).find((f) => /^wayland-\d+$/.test(f)) ?? '')), 10_000);
    const wl = { XDG_RUNTIME_DIR: rt, WAYLAND_DISPLAY: display };
    await lab.execHost('on1', ['sh', '-c', 'Xvfb :5 -nolisten tcp >/dev/null 2>&1 &'], { user: 'tower' });
    await until('Xvfb', async () => !(await lab.execHost('on1', ['xclip', '-o', '-display', ':5'], { user: 'tower' })).stderr.includes("Can't open display"), 10_000);

    const setHost = async (text: string) => {
      await lab.execHost('on1', ['sh', '-c', 'xclip -i -selection clipboard -display :5 >/dev/null 2>&1'], { user: 'tower', input: text });
      await until('the host clipboard', async () => (await lab.execHost('on1', ['xclip', '-o', '-selection', 'clipboard', '-display', ':5'], { user: 'tower' })).stdout === text, 5000);
    };
    const check = async (text: string) => {
      const r = await lab.execTc(['wl-paste', '--no-newline', '--type', 'text'], { env: wl });
      if (r.stdout !== text) throw new Error(`the thin client's clipboard holds ${JSON.stringify(r.stdout.slice(0, 40))}, not the text`);
    };
    const ctlEnv = { PATH: process.env.PATH, HOME: lab.home, TOWER_SOCKET: d.socket, ...wl };
    const sshEnv = { ...process.env, HOME: lab.home, ...wl };
    const xclipOut = 'xclip -o -selection clipboard -display :5';
    const ctlPath = join(scratch('ssh'), 'master');
    const cfg = join(lab.home, '.ssh', 'config');
    const master = spawnBackground([...lab.tcSpawnPrefix(), 'ssh', '-F', cfg, '-N', '-o', 'ControlMaster=yes', '-o', `ControlPath=${ctlPath}`, 'on1'], { env: sshEnv });
    cleanup(() => master.stop());
    await until('the OpenSSH master connection', () => statSync(ctlPath, { throwIfNoEntry: false })?.isSocket() === true, 10_000);

    const samples = { ctl: [] as number[], rpc: [] as number[], ssh: [] as number[], mux: [] as number[] };
    for (let i = 0; i < ROUNDS + 2; i++) {
      const warm = i < 2;
      const text = `round ${i} ${Date.now()} ünï\n`.repeat(8);
      const runs: [keyof typeof samples, () => Promise<number>][] = [
        ['ctl', () => timed([process.execPath, TOWERCTL, 'clip', 'copy', 'on1'], ctlEnv)],
        [
          'rpc',
          async () => {
            const t0 = performance.now();
            await client.call('clipboard.copy', { host: 'on1', wayland: { display, runtimeDir: rt } });
            return performance.now() - t0;
          },
        ],
        ['ssh', () => timed([...lab.tcSpawnPrefix(), 'sh', '-c', `ssh -F ${cfg} on1 ${xclipOut} | wl-copy >/dev/null 2>&1`], sshEnv)],
        ['mux', () => timed([...lab.tcSpawnPrefix(), 'sh', '-c', `ssh -F ${cfg} -o ControlPath=${ctlPath} on1 ${xclipOut} | wl-copy >/dev/null 2>&1`], sshEnv)],
      ];
      for (const [name, fn] of runs) {
        await lab.execTc(['sh', '-c', 'wl-copy --clear >/dev/null 2>&1'], { env: wl });
        await setHost(`${name} ${text}`);
        const ms = await fn();
        await check(`${name} ${text}`);
        if (!warm) samples[name].push(ms);
      }
    }
    const ctl = median(samples.ctl);
    const rpc = median(samples.rpc);
    const ssh = median(samples.ssh);
    const mux = median(samples.mux);
    const rows: LabRow[] = [
      { name: 'towerctl clip copy vs ssh HOST xclip -o | wl-copy', value: fmtDur(ctl), baseline: fmtDur(ssh), ratio: ctl / ssh, target: `≤ ${TARGET_MS} ms`, ok: ctl <= TARGET_MS, samples: samples.ctl, baselineSamples: samples.ssh },
      { name: 'clipboard.copy call vs the same over an ssh master', value: fmtDur(rpc), baseline: fmtDur(mux), ratio: rpc / mux, samples: samples.rpc, baselineSamples: samples.mux },
    ];
    printRows(title, rows);
    printNotes([
      `max: towerctl ${fmtDur(Math.max(...samples.ctl))}, call ${fmtDur(Math.max(...samples.rpc))}, ssh ${fmtDur(Math.max(...samples.ssh))}, ssh master ${fmtDur(Math.max(...samples.mux))}`,
      '176 bytes per copy; each round checks with wl-paste that the text arrived (not timed)',
    ]);
    return rows;
  });
}
