// The package relay's throughput: the same download (curl, one 64 MiB .apk from the lab's Alpine repository)
// made by an offline host through towerd's relay, and made directly on the router, in the same lab run.
// The relayed download is started by `towerctl install` with packages.apk set to that curl command, so it takes
// exactly the path apk takes: http_proxy → remote forward on the host's connection → relay → router's connection.
//
// `relay-hops` measures each hop of that path on its own, interleaved round by round in one lab: the direct
// download on the router, a towerd local forward to the repository through the router, a towerd remote forward
// from the offline host to a server in the thin client's namespace, the relay proxy alone on loopback (no SSH),
// and the whole chain.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shellJoin } from '../daemon/core/util/shell.js';
import { ROOT, TOWERD, startDaemon, towerctl, type RunningDaemon } from '../test/helpers/towerd.js';
import { resolveOnHost, ALPINE_CDN } from '../test/lab/alpine/dns.js';
import { bigdataPackage, buildRepo } from '../test/lab/alpine/repo.js';
import { serveRepo } from '../test/lab/alpine/serve.js';
import type { RunningLab } from '../test/lab/lab.js';
import { MB, cpuNs, fmtMBps, isRoot, median, printNotes, skipped, spawnBackground, withLab, type LabRow, type LabScope } from './lab-common.js';
import { printRows } from './stats.js';

const SIZE = 64 * 1024 * 1024;
const REPS = Number(process.env.RELAY_REPS ?? 5);
/** the internet link's rate for the second set of rounds (tc tbf syntax): a fast fibre uplink */
const UPLINK = process.env.RELAY_UPLINK ?? '1gbit';
const FILE = 'bigdata-1.0-r0.apk';
const URL_PATH = `/v3.19/main/x86_64/${FILE}`;
/** curl options that print "bytes seconds" of one download; curl takes http_proxy from the environment when set */
const CURL_OPTS = `-s -o /dev/null -w '%{size_download} %{time_total}\\n'`;
/** the machine's curl by its path: an Alpine-like lab host's PATH has only busybox, apk and TowerOS's stock tools */
const CURL_BIN = '/usr/bin/curl';
const CURL = `${CURL_BIN} ${CURL_OPTS} http://${ALPINE_CDN}${URL_PATH}`;
/** 100 requests for the (small) index on one connection; prints the sum of their times in seconds */
const SMALL_N = 100;
const SMALL = `${CURL_BIN} -s -w '%{time_total}\\n' ${Array.from({ length: SMALL_N }, () => `-o /dev/null http://${ALPINE_CDN}/v3.19/main/x86_64/APKINDEX.tar.gz`).join(' ')} | awk '{ s += $1 } END { print s }'`;

const parse = (out: string): number => {
  const [bytes, secs] = out.trim().split(/\s+/).map(Number);
  if (!bytes || bytes < SIZE || !secs) throw new Error(`unexpected curl output: ${out}`);
  return bytes / secs / MB;
};

interface RelayLab {
  lab: RunningLab;
  d: RunningDaemon;
  /** towerd from the build named by RELAY_COMPARE, if any */
  d2?: RunningDaemon;
  repo: string;
  serverPid: number;
}

/**
 * towerd in the lab's thin-client namespace; `main` runs another build's towerd instead of this one's.
 * RELAY_NODE_FLAGS (e.g. `--cpu-prof --cpu-prof-dir=DIR`) go to towerd's node only, for profiling the relay.
 */
function startTowerd(lab: RunningLab, home: string, main?: string): Promise<RunningDaemon> {
  const flags = process.env.RELAY_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? [];
  if (!flags.length && !main) return startDaemon({ home, spawnPrefix: lab.tcSpawnPrefix(), args: ['--log-level', 'warn'] });
  // startDaemon runs `node [flags] TOWERD args`: this shell puts the flags in and swaps TOWERD for `main`
  const script = `node="$0"; for a; do shift; if [ "$a" = "$SWAP_FROM" ]; then set -- "$@" "$SWAP_TO"; else set -- "$@" "$a"; fi; done; exec "$node" ${shellJoin(flags)} "$@"`;
  return startDaemon({ home, spawnPrefix: [...lab.tcSpawnPrefix(), 'sh', '-c', script], args: ['--log-level', 'warn'], env: { SWAP_FROM: TOWERD, SWAP_TO: main ?? TOWERD } });
}

async function relayLab(lab: RunningLab, { cleanup, scratch }: LabScope): Promise<RelayLab> {
  const repo = scratch('repo');
  buildRepo({ dir: repo, branch: 'v3.19', packages: [bigdataPackage(SIZE)] });
  const server = await serveRepo(lab, repo);
  cleanup(() => server.stop());
  await resolveOnHost(lab, 'router');
  mkdirSync(join(lab.home, '.config', 'tower'), { recursive: true });
  // `towerctl install off1 x` then runs: env http_proxy=… sh -c SCRIPT add x (`small`: SMALL, anything else: CURL)
  const script = `if [ "$1" = small ]; then ${SMALL}; else ${CURL}; fi`;
  writeFileSync(join(lab.home, '.config', 'tower', 'towerd.json'), JSON.stringify({ packages: { privilege: [], apk: ['sh', '-c', script] } }));
  // RELAY_COMPARE=/other/build/dist/daemon/main.js: a second towerd from that build, with a copy of this home, so
  // that `relay` compares two builds round by round in the same lab
  const other = process.env.RELAY_COMPARE;
  const home2 = other ? join(scratch('compare'), 'home') : undefined;
  if (home2) cpSync(lab.home, home2, { recursive: true });
  const d = await startTowerd(lab, lab.home);
  cleanup(() => d.stop());
  const d2 = home2 ? await startTowerd(lab, home2, other) : undefined;
  if (d2) cleanup(() => d2.stop());
  for (const x of d2 ? [d, d2] : [d])
    for (let i = 0; i < 100; i++) {
      const s = await towerctl(x, ['status', '--json']);
      if ((JSON.parse(s.stdout) as { hosts: { state: string }[] }).hosts.every((h) => h.state === 'online')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  return { lab, d, d2, repo, serverPid: server.pid };
}

async function relayed({ d }: RelayLab): Promise<number> {
  const r = await towerctl(d, ['install', 'off1', 'bigdata']);
  if (r.code !== 0) throw new Error(`relayed download failed (${r.code}): ${r.stderr}`);
  return parse(r.stdout);
}

async function direct({ lab }: RelayLab): Promise<number> {
  const dr = await lab.execHost('router', ['sh', '-c', CURL], { timeoutMs: 60_000 });
  if (dr.code !== 0) throw new Error(`direct download failed: ${dr.stderr}`);
  return parse(dr.stdout);
}

/** at the 1 Gbit/s uplink: relayed vs the router's own download, and towerd's CPU seconds per relayed GB */
const TARGET_SHAPED_RATIO = 0.95;
const TARGET_CPU_PER_GB_S = 1.5;

export async function benchRelay(): Promise<LabRow[]> {
  const title = `Package relay: ${SIZE / 2 ** 20} MiB over HTTP, offline host through towerd's relay vs the router downloading directly (median of ${REPS})`;
  if (!isRoot()) return skipped(title, 'needs root (network namespaces, sshd per host)');
  return withLab('p', { online: 0, offline: 1 }, async (lab, scope) => {
    const rl = await relayLab(lab, scope);
    const rel: number[] = [];
    const dir: number[] = [];
    const cmp: number[] = [];
    // towerd's CPU per relayed download (less sensitive to load from elsewhere than throughput)
    const cpu: number[] = [];
    const cmpCpu: number[] = [];
    const measured = async (d: RunningDaemon, into: number[], cpuInto: number[]) => {
      const c0 = cpuNs(d.proc.pid!);
      into.push(await relayed({ ...rl, d }));
      cpuInto.push((cpuNs(d.proc.pid!) - c0) / 1e6);
    };
    // interleaved, so that load from elsewhere on the machine hits both alike
    for (let i = 0; i < REPS; i++) {
      // the compared build goes first every other round
      if (rl.d2 && i % 2) await measured(rl.d2, cmp, cmpCpu);
      await measured(rl.d, rel, cpu);
      if (rl.d2 && !(i % 2)) await measured(rl.d2, cmp, cmpCpu);
      dir.push(await direct(rl));
    }
    const ratio = median(rel) / median(dir);
    // the same with the internet behind a real uplink rate: towerd's relay then has to keep up with the link, not
    // with a veth that only the CPU limits (tbf on the internet side's only interface, towards the router)
    const shapedRel: number[] = [];
    const shapedDir: number[] = [];
    const shapedCpu: number[] = [];
    const tc = (args: string[]) => execFileSync(lab.internetSpawnPrefix()[0]!, [...lab.internetSpawnPrefix().slice(1), 'tc', ...args], { stdio: 'pipe' });
    tc(['qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', UPLINK, 'burst', '1mb', 'latency', '50ms']);
    try {
      for (let i = 0; i < REPS; i++) {
        await measured(rl.d, shapedRel, shapedCpu);
        shapedDir.push(await direct(rl));
      }
    } finally {
      tc(['qdisc', 'del', 'dev', 'eth0', 'root']);
    }
    const shapedRatio = median(shapedRel) / median(shapedDir);
    // CPU seconds per relayed GB (ms per download of SIZE bytes)
    const perGB = (ms: number[]) => median(ms) / 1000 / (SIZE / 1e9);
    const rows: LabRow[] = [
      // hosts have 1 Gbit/s Ethernet: the shaped row is the one that counts; the unshaped one shows the CPU bound
      { name: `relay throughput, offline host via towerd and the router, internet link at ${UPLINK}/s (tc tbf)`, value: fmtMBps(median(shapedRel)), baseline: fmtMBps(median(shapedDir)), ratio: shapedRatio, target: `≥ ${TARGET_SHAPED_RATIO}×`, ok: shapedRatio >= TARGET_SHAPED_RATIO, samples: shapedRel, baselineSamples: shapedDir },
      { name: `towerd CPU per relayed GB at ${UPLINK}/s`, value: `${perGB(shapedCpu).toFixed(2)} s`, baseline: '-', ratio: NaN, target: `≤ ${TARGET_CPU_PER_GB_S} s`, ok: perGB(shapedCpu) <= TARGET_CPU_PER_GB_S },
      { name: 'the same, unshaped (veths only the CPU limits)', value: fmtMBps(median(rel)), baseline: fmtMBps(median(dir)), ratio, samples: rel, baselineSamples: dir },
      { name: 'towerd CPU per relayed GB, unshaped', value: `${perGB(cpu).toFixed(2)} s`, baseline: '-', ratio: NaN },
    ];
    if (rl.d2) rows.push({ name: `the same through towerd from ${process.env.RELAY_COMPARE}`, value: fmtMBps(median(cmp)), baseline: fmtMBps(median(dir)), ratio: median(cmp) / median(dir), samples: cmp, baselineSamples: dir });
    printRows(title, rows);
    printNotes([`relayed: ${rel.map((x) => x.toFixed(0)).join(', ')} MB/s (towerd CPU ${median(cpu).toFixed(0)} ms per download); direct on the router: ${dir.map((x) => x.toFixed(0)).join(', ')} MB/s`]);
    if (rl.d2) printNotes([`compared build: ${cmp.map((x) => x.toFixed(0)).join(', ')} MB/s (towerd CPU ${median(cmpCpu).toFixed(0)} ms per download)`]);
    return rows;
  });
}

/** An HTTP server in the thin client's namespace answering every GET with the package's bytes (held in memory). */
const TC_SERVER = `
const http = require('node:http'), fs = require('node:fs');
const body = fs.readFileSync(process.argv[1]);
http.createServer((req, res) => { res.writeHead(200, { 'content-length': body.length }); res.end(body); })
  .listen(0, '127.0.0.1', function () { console.log('port ' + this.address().port); });
`;

/** The relay proxy alone, on loopback in the thin client's namespace, dialling the server above directly. */
const PROXY_ALONE = `
const net = require('node:net');
const [mod, host, port] = process.argv.slice(1);
import(mod).then(({ RelayProxy }) => {
  const p = new RelayProxy({ hostName: 'bench', rules: () => [{ host, ports: [80] }], connect: () => ({ enabled: false, ports: [443], maxMs: 60000, maxBytes: 1 << 30, maxUploadBytes: 1 << 20 }),
    dial: () => new Promise((resolve, reject) => { const s = net.connect(Number(port), '127.0.0.1', () => resolve(s)); s.once('error', reject); }),
    audit: () => undefined });
  p.server.listen(0, '127.0.0.1', () => console.log('port ' + p.server.address().port));
});
`;

/** CPU ns of every process on the machine, by network namespace (`net:[inode]`); ended processes are not counted. */
function cpuByNetns(): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const ns = readlinkSync(`/proc/${pid}/ns/net`);
      out.set(ns, (out.get(ns) ?? 0) + cpuNs(Number(pid)));
    } catch {
      // the process ended in between, or is a kernel thread
    }
  }
  return out;
}

async function openForward(d: RunningDaemon, host: string, flag: '-L' | '-R', spec: string): Promise<number> {
  const r = await towerctl(d, ['forward', 'open', host, flag, spec, '--json']);
  if (r.code !== 0) throw new Error(`forward open ${host} ${flag} ${spec}: ${r.stderr}`);
  const id = (JSON.parse(r.stdout) as { id: string }).id;
  for (let i = 0; i < 200; i++) {
    const l = JSON.parse((await towerctl(d, ['forward', 'list', '--json'])).stdout) as { id: string; state: string; listen: { tcp?: { port: number } } }[];
    const f = l.find((x) => x.id === id);
    if (f?.state === 'active' && f.listen.tcp && f.listen.tcp.port > 0) return f.listen.tcp.port;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error(`forward ${id} did not become active`);
}

export async function benchRelayHops(): Promise<LabRow[]> {
  const title = `Package relay, hop by hop: ${SIZE / 2 ** 20} MiB with curl, each hop against the router's direct download (medians of ${REPS} interleaved rounds)`;
  if (!isRoot()) return skipped(title, 'needs root (network namespaces, sshd per host)');
  return withLab('h', { online: 0, offline: 1 }, async (lab, scope) => {
    const rl = await relayLab(lab, scope);
    const file = join(rl.repo, 'v3.19', 'main', 'x86_64', FILE);
    const srv = spawnBackground([...lab.tcSpawnPrefix(), process.execPath, '-e', TC_SERVER, file]);
    scope.cleanup(() => srv.stop());
    const srvPort = Number((await srv.waitFor(/port (\d+)/, 10_000))[1]);
    const proxy = spawnBackground([...lab.tcSpawnPrefix(), process.execPath, '-e', PROXY_ALONE, join(ROOT, 'dist/daemon/features/packages/relay/proxy.js'), ALPINE_CDN, String(srvPort)]);
    scope.cleanup(() => proxy.stop());
    const proxyPort = Number((await proxy.waitFor(/port (\d+)/, 10_000))[1]);
    const lfPort = await openForward(rl.d, 'router', '-L', `0:${lab.internetIp}:80`);
    const rfPort = await openForward(rl.d, 'off1', '-R', `0:127.0.0.1:${srvPort}`);
    const tc = async (args: string) => {
      const r = await lab.execTc(['sh', '-c', `${CURL_BIN} ${CURL_OPTS} ${args}`], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`curl ${args}: ${r.stderr}`);
      return parse(r.stdout);
    };
    const onHost = async (args: string) => {
      const r = await lab.execHost('off1', ['sh', '-c', `${CURL_BIN} ${CURL_OPTS} ${args}`], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`curl on off1 ${args}: ${r.stderr}`);
      return parse(r.stdout);
    };
    const hops: [string, () => Promise<number>][] = [
      ['direct download on the router', () => direct(rl)],
      ['thin client → towerd local forward → router → repository', () => tc(`http://127.0.0.1:${lfPort}${URL_PATH}`)],
      ['offline host → towerd remote forward → server on the thin client', () => onHost(`http://127.0.0.1:${rfPort}${URL_PATH}`)],
      ['thin client → relay proxy alone (no SSH) → server on the thin client', () => tc(`--proxy http://127.0.0.1:${proxyPort} http://${ALPINE_CDN}${URL_PATH}`)],
      ['server on the thin client, curl on loopback', () => tc(`http://127.0.0.1:${srvPort}${URL_PATH}`)],
      ['full relay chain (towerctl install)', () => relayed(rl)],
    ];
    const samples = hops.map(() => [] as number[]);
    // towerd's CPU time per download, against the download's own duration: how close towerd is to a full core
    const cpuMs = hops.map(() => [] as number[]);
    const busy = hops.map(() => [] as number[]);
    // and the CPU of the lab's other processes, by namespace: sshd on the router and on the offline host, the
    // repository server; short-lived ones (curl, the commands that start it) are not counted
    const pid = rl.d.proc.pid!;
    const nsOf = async (h: string) => (await lab.execHost(h, ['readlink', '/proc/self/ns/net'])).stdout.trim();
    const groups: [string, string][] = [
      [await nsOf('router'), 'router'],
      [await nsOf('off1'), 'off1'],
      [readlinkSync(`/proc/${rl.serverPid}/ns/net`), 'repository server'],
    ];
    const nsMs = hops.map(() => groups.map(() => [] as number[]));
    for (let i = 0; i < REPS; i++)
      for (const [j, [, fn]] of hops.entries()) {
        const n0 = cpuByNetns();
        const c0 = cpuNs(pid);
        const mbps = await fn();
        const ms = (cpuNs(pid) - c0) / 1e6;
        const n1 = cpuByNetns();
        for (const [k, [ns]] of groups.entries()) nsMs[j]![k]!.push(((n1.get(ns) ?? 0) - (n0.get(ns) ?? 0)) / 1e6);
        samples[j]!.push(mbps);
        cpuMs[j]!.push(ms);
        busy[j]!.push(ms / ((SIZE / MB / mbps) * 1000));
      }
    // many small requests on one connection: what each costs beyond its bytes (one upstream connection is kept per
    // client connection, so only the first opens a channel through the router)
    const smallMs = async (run: () => Promise<{ code: number | null; stdout: string; stderr: string }>) => {
      const r = await run();
      const secs = Number(r.stdout.trim());
      if (r.code !== 0 || !(secs > 0)) throw new Error(`small requests failed (${r.code}): ${r.stdout} ${r.stderr}`);
      return (secs * 1000) / SMALL_N;
    };
    const smallRelay: number[] = [];
    const smallDirect: number[] = [];
    for (let i = 0; i < REPS; i++) {
      smallRelay.push(await smallMs(() => towerctl(rl.d, ['install', 'off1', 'small'])));
      smallDirect.push(await smallMs(() => lab.execHost('router', ['sh', '-c', SMALL], { timeoutMs: 60_000 })));
    }
    const base = median(samples[0]!);
    const rows: LabRow[] = hops.map(([name], j) => ({ name, value: fmtMBps(median(samples[j]!)), baseline: fmtMBps(base), ratio: median(samples[j]!) / base, samples: samples[j]!, baselineSamples: samples[0]! }));
    const ms = (x: number) => `${x.toFixed(2)} ms`;
    rows.push({ name: `${SMALL_N} small requests on one connection, time per request`, value: ms(median(smallRelay)), baseline: ms(median(smallDirect)), ratio: median(smallRelay) / median(smallDirect), samples: smallRelay, baselineSamples: smallDirect });
    printRows(title, rows);
    printNotes(hops.map(([name], j) => `${name}: ${samples[j]!.map((x) => x.toFixed(0)).join(', ')} MB/s; towerd CPU ${median(cpuMs[j]!).toFixed(0)} ms per download, ${(median(busy[j]!) * 100).toFixed(0)}% of its duration; CPU per download elsewhere: ${groups.map(([, name], k) => `${name} ${median(nsMs[j]![k]!).toFixed(0)} ms`).join(', ')}`));
    return rows;
  });
}
