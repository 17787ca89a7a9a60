// Backup throughput: a 200 MiB folder of random bytes on the offline host off1, backed up by `towerctl backup --run`
// (restic on off1, its repository on on1 through towerd's pipe to on1's sftp subsystem), against restic on off1
// writing the same folder to a repository on off1's own disk, in the same lab and the same run. Each side starts
// with an empty repository (init included) and is timed from the request to the end of restic.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TowerClient } from '../client/rpc.js';
import { startDaemon } from '../test/helpers/towerd.js';
import { until } from '../test/helpers/until.js';
import type { RunningLab } from '../test/lab/lab.js';
import { APK_ROOT, defaultProfile } from '../test/lab/profile.js';
import { MiB, cpuNs, fmtDur, isRoot, printNotes, skipped, withLab, type LabRow } from './lab-common.js';
import { printRows } from './stats.js';

const SIZE_MIB = Number(process.env.BACKUP_MIB ?? 200);
const TARGET_RATIO = 0.5;

export async function benchBackup(): Promise<LabRow[]> {
  const title = `Backup: ${SIZE_MIB} MiB of random files, restic through towerd to another host vs restic to a local repository`;
  if (!isRoot()) return skipped(title, 'needs root (network namespaces)');
  return withLab('bk', { online: 1, offline: 1 }, async (lab: RunningLab, { cleanup }) => {
    const bin = defaultProfile() === 'alpine' ? `${APK_ROOT}/usr/bin` : '/usr/local/bin';
    for (const h of ['off1', 'on1']) await lab.execHost(h, ['sh', '-c', `mkdir -p ${bin} && ln -sf /usr/bin/restic ${bin}/restic`]);
    const sh = async (script: string) => {
      const r = await lab.execHost('off1', ['sh', '-c', `cd && ${script}`], { user: 'tower' });
      if (r.code !== 0) throw new Error(`off1: ${script}: ${r.stderr}`);
      return r.stdout;
    };
    // 50 files of 4 MiB
    await sh(`mkdir -p data && i=0; while [ $i -lt ${SIZE_MIB / 4} ]; do head -c 4194304 /dev/urandom > data/f$i; i=$((i+1)); done`);
    const home = (await sh('pwd -P')).trim();

    const t0 = performance.now();
    const local = await sh(`export RESTIC_PASSWORD=bench; restic -q -r local-repo init >/dev/null && restic -r local-repo --json backup ${home}/data | tail -n 1`);
    const localMs = performance.now() - t0;
    const localBackupS = (JSON.parse(local) as { total_duration: number }).total_duration;

    mkdirSync(join(lab.home, '.config', 'tower'), { recursive: true });
    writeFileSync(
      join(lab.home, '.config', 'tower', 'towerd.json'),
      JSON.stringify({ backup: { settleMs: 0, ...(process.env.BACKUP_NETCAT ? { netcat: process.env.BACKUP_NETCAT } : {}), sets: [{ host: 'off1', paths: [`${home}/data`], storage: { host: 'on1', folder: 'repo' }, everyHours: 1000 }] } }),
    );
    // the set is due at once: towerd backs it up as soon as both hosts are connected
    const d = await startDaemon({ home: lab.home, spawnPrefix: lab.tcSpawnPrefix(), args: ['--log-level', 'warn'] });
    cleanup(() => d.stop());
    const c0 = cpuNs(d.proc.pid!);
    const client = await TowerClient.connect(d.socket);
    cleanup(() => client.close());
    const set = await until('the first backup', async () => (await client.call('backup.list', {})).sets.find((s) => s.last !== null), 600_000, 200);
    if (set.last?.result !== 'ok') throw new Error(`the backup through towerd failed: ${set.last?.reason}`);
    const towerMs = set.last.durationMs;
    const towerBackupS = set.last.resticSeconds ?? NaN;
    const towerdCpuMs = (cpuNs(d.proc.pid!) - c0) / 1e6;

    const mbps = (ms: number) => (SIZE_MIB * MiB) / 1e6 / (ms / 1000);
    const ratio = mbps(towerMs) / mbps(localMs);
    const rows: LabRow[] = [
      {
        name: 'restic backup through towerd (sftp to on1)',
        value: `${mbps(towerMs).toFixed(1)} MB/s`,
        baseline: `${mbps(localMs).toFixed(1)} MB/s`,
        ratio,
        target: `≥ ${TARGET_RATIO}× local`,
        ok: ratio >= TARGET_RATIO,
      },
      {
        name: 'restic backup alone (its own total_duration)',
        value: `${mbps(towerBackupS * 1000).toFixed(1)} MB/s`,
        baseline: `${mbps(localBackupS * 1000).toFixed(1)} MB/s`,
        ratio: localBackupS / towerBackupS,
      },
    ];
    printRows(title, rows);
    printNotes([
      `through towerd: ${fmtDur(towerMs)} (repository folder prepared, restic init, backup, snapshots: ${((set.last.dataAdded ?? 0) / MiB).toFixed(0)} MiB added)`,
      `local repository on off1: ${fmtDur(localMs)} (restic init and backup)`,
      `towerd CPU from its start to the end of the backup: ${fmtDur(towerdCpuMs)} (${((100 * towerdCpuMs) / towerMs).toFixed(0)}% of the backup's duration); backup.netcat ${process.env.BACKUP_NETCAT ?? 'auto'}`,
    ]);
    return rows;
  });
}
