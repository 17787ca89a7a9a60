// The package relay's throughput: the same download (curl, one 64 MiB .apk from the lab's Alpine repository)
// made by an offline host through towerd's relay, and made directly on the router, in the same lab run.
// The relayed download is started by `towerctl install` with packages.apk set to that curl command, so it takes
// exactly the path apk takes: http_proxy → remote forward on the host's connection → relay → router's connection.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, towerctl } from '../test/helpers/towerd.js';
import { resolveOnHost, ALPINE_CDN } from '../test/lab/alpine/dns.js';
import { bigdataPackage, buildRepo } from '../test/lab/alpine/repo.js';
import { serveRepo } from '../test/lab/alpine/serve.js';
import { MB, fmtMBps, isRoot, median, printNotes, skipped, withLab, type LabRow } from './lab-common.js';
import { printRows } from './stats.js';

const SIZE = 64 * 1024 * 1024;
const REPS = 3;
const FILE = 'bigdata-1.0-r0.apk';
const URL_PATH = `/v3.19/main/x86_64/${FILE}`;
/** prints "bytes seconds" of one download; curl takes http_proxy from the environment when it is set */
const CURL = `curl -s -o /dev/null -w '%{size_download} %{time_total}\\n' http://${ALPINE_CDN}${URL_PATH}`;

export async function benchRelay(): Promise<LabRow[]> {
  const title = `Package relay: ${SIZE / 2 ** 20} MiB over HTTP, offline host through towerd's relay vs the router downloading directly (median of ${REPS})`;
  if (!isRoot()) return skipped(title, 'needs root (network namespaces, sshd per host)');
  return withLab('p', { online: 0, offline: 1 }, async (lab, { cleanup, scratch }) => {
    const repo = scratch('repo');
    buildRepo({ dir: repo, branch: 'v3.19', packages: [bigdataPackage(SIZE)] });
    const server = await serveRepo(lab, repo);
    cleanup(() => server.stop());
    await resolveOnHost(lab, 'router');
    mkdirSync(join(lab.home, '.config', 'tower'), { recursive: true });
    // `towerctl install off1 x` then runs: env http_proxy=… sh -c CURL add x
    writeFileSync(join(lab.home, '.config', 'tower', 'towerd.json'), JSON.stringify({ packages: { privilege: [], apk: ['sh', '-c', CURL] } }));
    const d = await startDaemon({ home: lab.home, spawnPrefix: lab.tcSpawnPrefix(), args: ['--log-level', 'warn'] });
    cleanup(() => d.stop());
    for (let i = 0; i < 100; i++) {
      const s = await towerctl(d, ['status', '--json']);
      if ((JSON.parse(s.stdout) as { hosts: { state: string }[] }).hosts.every((h) => h.state === 'online')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const parse = (out: string): number => {
      const [bytes, secs] = out.trim().split(/\s+/).map(Number);
      if (!bytes || bytes < SIZE || !secs) throw new Error(`unexpected curl output: ${out}`);
      return bytes / secs / MB;
    };
    const relayed: number[] = [];
    const direct: number[] = [];
    for (let i = 0; i < REPS; i++) {
      const r = await towerctl(d, ['install', 'off1', 'bigdata']);
      if (r.code !== 0) throw new Error(`relayed download failed (${r.code}): ${r.stderr}`);
      relayed.push(parse(r.stdout));
      const dr = await lab.execHost('router', ['sh', '-c', CURL], { timeoutMs: 60_000 });
      if (dr.code !== 0) throw new Error(`direct download failed: ${dr.stderr}`);
      direct.push(parse(dr.stdout));
    }
    const rows: LabRow[] = [
      { name: 'relay throughput, offline host via towerd and the router', value: fmtMBps(median(relayed)), baseline: fmtMBps(median(direct)), ratio: median(relayed) / median(direct), target: '≥ 0.9×', ok: median(relayed) / median(direct) >= 0.9, samples: relayed, baselineSamples: direct },
    ];
    printRows(title, rows);
    printNotes([`relayed: ${relayed.map((x) => x.toFixed(0)).join(', ')} MB/s; direct on the router: ${direct.map((x) => x.toFixed(0)).join(', ')} MB/s`]);
    return rows;
  });
}
