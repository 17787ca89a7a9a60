// Host → host copy: `towerctl cp off1:data off2:` (towerd parses, checks and re-packs every entry, hashing each file)
// against OpenSSH's `ssh off1 tar c data | ssh off2 tar x` from the thin client, interleaved round by round in one
// lab of two offline hosts that cannot reach each other. Every round checks the file count that arrived.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TowerClient } from '../client/rpc.js';
import { TOWERCTL, startDaemon } from '../test/helpers/towerd.js';
import type { RunningLab } from '../test/lab/lab.js';
import { fmtDur, fmtMBps, isRoot, median, MB, printNotes, skipped, withLab, type LabRow } from './lab-common.js';
import { printRows } from './stats.js';
import { until } from '../test/helpers/until.js';

const ROUNDS = Number(process.env.FILES_ROUNDS ?? 5);
const FILES = 1000;
const TOTAL = 200 * 1024 * 1024;
const TARGET = 0.8;

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

export async function benchFiles(): Promise<LabRow[]> {
  const title = `Files: ${FILES} files, ${TOTAL / 1024 / 1024} MiB, offline host → offline host (${ROUNDS} rounds, interleaved)`;
  if (!isRoot()) return skipped(title, 'needs root (network namespaces)');
  return withLab('fl', { online: 0, offline: 2, router: false }, async (lab: RunningLab, { cleanup }) => {
    mkdirSync(join(lab.home, '.config', 'tower'), { recursive: true });
    writeFileSync(join(lab.home, '.config', 'tower', 'towerd.json'), JSON.stringify({ files: { policy: [{ from: 'offline', to: 'offline', action: 'allow' }] } }));
    const d = await startDaemon({ home: lab.home, spawnPrefix: lab.tcSpawnPrefix(), args: ['--log-level', 'warn'] });
    cleanup(() => d.stop());
    const client = await TowerClient.connect(d.socket);
    cleanup(() => client.close());
    await until('both hosts online', async () => (await client.call('status')).hosts.every((h) => h.state === 'online'), 20_000);
    const sh = async (host: string, script: string) => {
      const r = await lab.execHost(host, ['sh', '-c', script], { user: 'tower', timeoutMs: 300_000 });
      if (r.code !== 0) throw new Error(`${host}: ${r.stderr}`);
      return r.stdout;
    };
    const each = Math.floor(TOTAL / FILES);
    await sh('off1', `cd "$HOME" && i=0 && while [ $i -lt ${FILES} ]; do mkdir -p data/p$((i / 100)) && head -c ${each} /dev/urandom > data/p$((i / 100))/f$i; i=$((i + 1)); done`);
    const bytes = Number((await sh('off1', 'cat "$HOME"/data/*/* | wc -c')).trim());
    const count = (dir: string) => sh('off2', `find "$HOME/${dir}" -type f | wc -l`).then((s) => Number(s.trim()));

    const cfg = join(lab.home, '.ssh', 'config');
    const env = { ...process.env, HOME: lab.home, NO_COLOR: '1', TOWER_SOCKET: d.socket };
    const samples = { tower: [] as number[], ssh: [] as number[] };
    for (let i = 0; i < ROUNDS + 1; i++) {
      const warm = i === 0;
      const runs: [keyof typeof samples, string, () => Promise<number>][] = [
        ['tower', `t${i}`, () => timed([process.execPath, TOWERCTL, 'cp', 'off1:data', `off2:t${i}`], env)],
        ['ssh', `s${i}`, () => timed([...lab.tcSpawnPrefix(), 'sh', '-c', `ssh -F ${cfg} off1 'tar -c -f - data' | ssh -F ${cfg} off2 'mkdir -p s${i} && tar -x -o -f - -C s${i}'`], env)],
      ];
      for (const [name, dir, fn] of runs) {
        const ms = await fn();
        const n = await count(dir);
        if (n !== FILES) throw new Error(`${name}: ${n} files arrived, not ${FILES}`);
        await sh('off2', `rm -rf "$HOME/${dir}"`);
        if (!warm) samples[name].push(ms);
      }
    }
    const tower = (bytes / MB) / (median(samples.tower) / 1000);
    const ssh = (bytes / MB) / (median(samples.ssh) / 1000);
    const rows: LabRow[] = [
      { name: 'towerctl cp off1:data off2: vs ssh off1 tar c | ssh off2 tar x', value: fmtMBps(tower), baseline: fmtMBps(ssh), ratio: tower / ssh, target: `≥ ${TARGET}×`, ok: tower / ssh >= TARGET, samples: samples.tower, baselineSamples: samples.ssh },
    ];
    printRows(title, rows);
    printNotes([
      `median wall time: towerctl cp ${fmtDur(median(samples.tower))}, ssh | ssh ${fmtDur(median(samples.ssh))} (each with its connection set-up: towerd's are open already, OpenSSH opens two)`,
      'towerd hashes every file (SHA-256) and writes a fresh tar stream; the hosts run busybox tar',
    ]);
    return rows;
  });
}
