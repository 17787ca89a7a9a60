import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { TOWERCTL, startDaemon, towerctl } from '../test/helpers/towerd.js';
import { fmtMs, printRows, summarize, type Row } from './stats.js';

function wall(argv: string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const t = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${String(r.stderr)}`);
  return t;
}

/** `towerctl status` against a running daemon with 3 hosts, next to `node -e ''`, interleaved so both see the same machine. */
export async function benchCli(runs = 30): Promise<Row[]> {
  const d = await startDaemon({ args: ['--log-level', 'warn'] });
  try {
    for (const [n, role] of [['router', '--router'], ['web', '--online'], ['vault', '--offline']] as const) await towerctl(d, ['host', 'add', n, role]);
    const env = { ...d.env, NO_COLOR: '1' };
    const cli: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < 3; i++) {
      wall([process.execPath, TOWERCTL, 'status'], env);
      wall([process.execPath, '-e', ''], env);
    }
    for (let i = 0; i < runs; i++) {
      cli.push(wall([process.execPath, TOWERCTL, 'status'], env));
      bare.push(wall([process.execPath, '-e', ''], env));
    }
    const c = summarize(cli);
    const b = summarize(bare);
    const rows: Row[] = [{ name: `towerctl status wall time, median of ${runs}`, value: fmtMs(c.median), baseline: fmtMs(b.median), ratio: c.median / b.median, target: '≤ 1.5×', ok: c.median / b.median <= 1.5 }];
    printRows("CLI start-up (baseline: node -e '')", rows);
    return rows;
  } finally {
    await d.stop();
  }
}
