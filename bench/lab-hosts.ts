// 50 hosts supervised: towerd's memory and idle CPU with one SSH connection per host and a keepalive every second.
// Baselines from the same run and the same window: for memory, the same towerd and registry with --no-supervise (the
// ratio is what supervision costs); for CPU, the same 50 connections kept by 50 OpenSSH clients with their tightest
// keepalive (the registry-only daemon idles at ~0 %, which would make a ratio meaningless; it is in the notes).
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TowerClient } from '../client/rpc.js';
import { startDaemon } from '../test/helpers/towerd.js';
import { MB, cpuNs, cpuUserSystem, fmtDur, isRoot, mainThreadCpuNs, median, memBytes, printNotes, skipped, sleep, spawnBackground, withLab, type Background, type LabRow } from './lab-common.js';
import { printRows, type Row } from './stats.js';

const TARGET_RSS_MB = 150;
const TARGET_CPU_PCT = 1;
/** towerd.json's default ssh.keepalive.intervalMs */
const KEEPALIVE_MS = 1000;
/** OpenSSH's ServerAliveInterval is in whole seconds: 1 is its tightest */
const OPENSSH_ALIVE_S = 1;

export async function benchHosts(hostCount = 50, windowMs = 10_000, settleMs = 60_000): Promise<Row[]> {
  const title = `${hostCount} hosts supervised (router + ${hostCount - 1} online), idle over ${windowMs / 1000} s, ${settleMs / 1000} s after all are online`;
  if (!isRoot()) return skipped(title, 'needs root (network namespaces, sshd per host)');
  return withLab('h', { online: hostCount - 1, offline: 0 }, async (lab, { cleanup, scratch }) => {
    const names = lab.hosts.map((h) => h.name);
    if (names.length !== hostCount) throw new Error(`lab has ${names.length} hosts, wanted ${hostCount}`);
    const sshConfig = join(lab.home, '.ssh', 'config');

    // baseline of the start: every host reached once by OpenSSH from the thin client, all at the same time
    const s0 = performance.now();
    const sshAll = await Promise.all(names.map((n) => lab.execTc(['ssh', '-F', sshConfig, '-o', 'BatchMode=yes', n, 'true'], { timeoutMs: 30_000 })));
    const sshAllMs = performance.now() - s0;
    const failed = sshAll.filter((r) => r.code !== 0);
    if (failed.length) throw new Error(`${failed.length} of ${hostCount} \`ssh HOST true\` failed: ${failed[0]!.stderr.trim()}`);

    // baseline of the idle CPU: the same connections held by OpenSSH, one client per host, keepalive every second
    const clients: Background[] = names.map((n) => {
      const bg = spawnBackground(
        [...lab.tcSpawnPrefix(), 'ssh', '-F', sshConfig, '-n', '-N', '-o', `ServerAliveInterval=${OPENSSH_ALIVE_S}`, '-o', 'ServerAliveCountMax=2', '-o', 'PermitLocalCommand=yes', '-o', 'LocalCommand=echo connected', n],
        { env: { ...process.env, HOME: lab.home }, lifetimeMs: 300_000 },
      );
      cleanup(() => bg.stop());
      return bg;
    });
    await Promise.all(clients.map((c) => c.waitFor(/connected/, 30_000)));

    // registry only: never dials (it runs outside the lab, so startDaemon adds --no-supervise)
    const registryOnly = await startDaemon({ home: lab.home, env: { XDG_RUNTIME_DIR: join(scratch('registry-only'), 'run') } });
    cleanup(() => registryOnly.stop());
    // a reference only: what an idle Node process costs on this machine
    const bare = spawnBackground([process.execPath, '-e', 'setInterval(() => {}, 1e9)'], { lifetimeMs: 300_000 });
    cleanup(() => bare.stop());

    const t0 = performance.now();
    const d = await startDaemon({ home: lab.home, spawnPrefix: lab.tcSpawnPrefix() });
    cleanup(() => d.stop());
    const client = await TowerClient.connect(d.socket);
    cleanup(() => client.close());
    let allOnlineMs: number;
    for (;;) {
      const hosts = (await client.call('status')).hosts;
      if (hosts.length === hostCount && hosts.every((h) => h.state === 'online')) {
        allOnlineMs = performance.now() - t0;
        break;
      }
      if (performance.now() - t0 > 60_000) {
        const off = hosts.filter((h) => h.state !== 'online').map((h) => `${h.name}:${h.state}:${h.lastError ?? ''}`);
        throw new Error(`not all ${hostCount} hosts online within 60 s: ${off.slice(0, 5).join(', ')}`);
      }
      await sleep(100);
    }
    // past start-up: JIT (at 50 probes/s TurboFan is still compiling the probe path after 20 s), and V8's memory
    // reducer (a few full collections once allocation calms down)
    await sleep(settleMs);

    const sshPids = clients.map((c) => c.pid);
    const sshCpu = () => sshPids.reduce((a, p) => a + cpuNs(p), 0);
    const pids = { towerd: d.proc.pid!, base: registryOnly.proc.pid!, bare: bare.pid };
    const cpu0 = { towerd: cpuNs(pids.towerd), main: mainThreadCpuNs(pids.towerd), base: cpuNs(pids.base), bare: cpuNs(pids.bare), ssh: sshCpu(), us: cpuUserSystem(pids.towerd) };
    const w0 = performance.now();
    const rss = { towerd: [] as number[], base: [] as number[], bare: [] as number[] };
    const sample = () => {
      for (const k of ['towerd', 'base', 'bare'] as const) rss[k].push(memBytes(pids[k]).rss);
    };
    sample();
    for (let i = 0; i < windowMs / 1000; i++) {
      await sleep(1000); // reading /proc costs the processes nothing; no RPC during the window
      sample();
    }
    const wallS = (performance.now() - w0) / 1000;
    const pct = (ns: number) => (ns / 1e9 / wallS) * 100;
    const cpu = { towerd: pct(cpuNs(pids.towerd) - cpu0.towerd), base: pct(cpuNs(pids.base) - cpu0.base), bare: pct(cpuNs(pids.bare) - cpu0.bare), ssh: pct(sshCpu() - cpu0.ssh) };
    const us = cpuUserSystem(pids.towerd);
    const split = { user: ((us.user - cpu0.us.user) / wallS) * 100, system: ((us.system - cpu0.us.system) / wallS) * 100 };
    const mainPct = pct(mainThreadCpuNs(pids.towerd) - cpu0.main);
    const sshPss = sshPids.reduce((a, p) => a + memBytes(p).pss, 0);
    const towerdMem = memBytes(pids.towerd);
    const stats = await client.call('daemon.stats');
    const status = (await client.call('status')).hosts;
    const stillOnline = status.filter((h) => h.state === 'online').length;
    const sshAlive = clients.filter((c) => c.proc.exitCode === null && c.proc.signalCode === null).length;
    const rtts = status.map((h) => h.rttMs ?? NaN).filter((x) => !Number.isNaN(x));

    const towerdProbes = (hostCount * 1000) / KEEPALIVE_MS;
    const sshProbes = hostCount / OPENSSH_ALIVE_S;
    const perProbe = { towerd: ((cpu.towerd / 100) * 1e6) / towerdProbes, ssh: ((cpu.ssh / 100) * 1e6) / sshProbes };
    const maxRss = { towerd: Math.max(...rss.towerd), base: Math.max(...rss.base), bare: Math.max(...rss.bare) };
    const rows: LabRow[] = [
      {
        name: `towerd RSS, ${hostCount} hosts online, max over the window (baseline: towerd --no-supervise, same registry)`,
        value: `${(maxRss.towerd / MB).toFixed(1)} MB`,
        baseline: `${(maxRss.base / MB).toFixed(1)} MB`,
        ratio: maxRss.towerd / maxRss.base,
        target: `≤ ${TARGET_RSS_MB} MB`,
        ok: maxRss.towerd <= TARGET_RSS_MB * MB,
        samples: rss.towerd,
        baselineSamples: rss.base,
      },
      {
        name: `towerd idle CPU, % of one core (baseline: ${hostCount} OpenSSH clients, ServerAliveInterval=${OPENSSH_ALIVE_S}, all together)`,
        value: `${cpu.towerd.toFixed(2)} %`,
        baseline: `${cpu.ssh.toFixed(2)} %`,
        ratio: cpu.towerd / cpu.ssh,
        target: `≤ ${TARGET_CPU_PCT} %`,
        ok: cpu.towerd <= TARGET_CPU_PCT,
      },
      {
        name: `CPU per keepalive round trip (towerd ${towerdProbes}/s, OpenSSH ${sshProbes}/s)`,
        value: `${perProbe.towerd.toFixed(0)} µs`,
        baseline: `${perProbe.ssh.toFixed(0)} µs`,
        ratio: perProbe.towerd / perProbe.ssh,
      },
      {
        name: `all ${hostCount} online after towerd starts (baseline: ${hostCount} concurrent \`ssh HOST true\`)`,
        value: fmtDur(allOnlineMs),
        baseline: fmtDur(sshAllMs),
        ratio: allOnlineMs / sshAllMs,
      },
    ];
    const notes = [
      `registry-only towerd (--no-supervise, same registry, same window): ${cpu.base.toFixed(2)} % CPU, so towerd's idle CPU is its ${hostCount} supervised connections`,
      `where towerd's goes: main thread (JavaScript and its syscalls) ${mainPct.toFixed(2)} %, other threads (V8 GC, compiler) ${(cpu.towerd - mainPct).toFixed(2)} %; user ${split.user.toFixed(2)} % / system ${split.system.toFixed(2)} % (sampled in 10 ms ticks)`,
      `keepalive every ${KEEPALIVE_MS} ms (towerd.json default; offline after 1.5 s without a reply) → ${towerdProbes} round trips/s, OpenSSH's tightest ${sshProbes}/s; ≤ ${TARGET_CPU_PCT} % at that rate needs ≤ ${(((TARGET_CPU_PCT / 100) * 1e6) / towerdProbes).toFixed(0)} µs of CPU per round trip`,
      `daemon.stats: ${stats.sshConnected} SSH connections, ${stats.openFds} fds, heap used ${(stats.heapUsedBytes / MB).toFixed(1)} MB; towerd peak RSS since start (VmHWM) ${(towerdMem.hwm / MB).toFixed(1)} MB, PSS ${(towerdMem.pss / MB).toFixed(1)} MB; median RSS over the window ${(median(rss.towerd) / MB).toFixed(1)} MB`,
      `${hostCount} OpenSSH clients together: ${(sshPss / MB).toFixed(1)} MB PSS; ${sshAlive} of ${hostCount} still connected. towerd: ${stillOnline} of ${hostCount} still online, keepalive RTT median ${rtts.length ? median(rtts).toFixed(2) : '?'} ms`,
      `reference: idle \`node -e 'setInterval(() => {}, 1e9)'\` ${(maxRss.bare / MB).toFixed(1)} MB RSS, ${cpu.bare.toFixed(2)} % CPU`,
    ];
    printRows(`${title}; MB = 10^6 bytes`, rows);
    printNotes(notes);
    rows[0]!.note = [notes[3], notes[4], notes[5]].join('; ');
    rows[1]!.note = [notes[0], notes[1], notes[2]].join('; ');
    if (stillOnline !== hostCount) throw new Error(`${hostCount - stillOnline} hosts went offline during an idle window`);
    return rows;
  });
}
