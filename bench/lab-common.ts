// What the lab benchmarks share: a lab that is always torn down, background processes with deadlines, the Python
// traffic programs (the same client and server for towerd and for OpenSSH), and /proc readings.
//
// Network safety: every byte goes to loopback or to addresses inside the lab's namespaces. The only processes
// that dial hosts run in the lab's thin-client namespace (lab.tcSpawnPrefix()), which has no route out of the lab.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { labDownPrefix, labDownStale, labUp, type LabOptions, type RunningLab } from '../test/lab/lab.js';
import { tempHome } from '../test/helpers/towerd.js';
import type { Row } from './stats.js';

/** Lab prefixes of the benchmarks: `twlb<pid><tag>`, so stale ones can be swept by family. */
export const LAB_FAMILY = 'twlb';
export const PYTHON = '/usr/bin/python3';
export const MB = 1e6;
export const MiB = 1 << 20;

/** A row with what a reader needs to check it: the samples behind a median, the cipher it ran with, and so on. */
export interface LabRow extends Row {
  note?: string;
  samples?: number[];
  baselineSamples?: number[];
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** For a suite that cannot run here: says so, returns no rows. */
export function skipped(title: string, why: string): Row[] {
  process.stdout.write(`\n${title}\n  skipped: ${why}\n`);
  return [];
}

/** Indented lines under a table, for facts that are not numbers against a baseline (ciphers, window sizes). */
export function printNotes(notes: string[]): void {
  for (const n of notes) process.stdout.write(`  · ${n}\n`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const fmtMBps = (x: number) => `${x.toFixed(1)} MB/s`;
export const fmtDur = (ms: number) => (ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`);

/** What a benchmark gets next to its lab: register a stop for something it started; get a fresh scratch folder. */
export interface LabScope {
  cleanup: (stop: () => unknown) => void;
  scratch: (name: string) => string;
}

/**
 * Run `fn` with a fresh lab (prefix `twlb<pid><tag>`), and tear the lab down afterwards whatever happens: the stops
 * registered with `cleanup` (daemons, forwarders) run in reverse order, then the lab goes, then the temporary folder
 * holding its home and every `scratch` folder. SIGINT/SIGTERM while it runs also take the lab down (processes,
 * namespaces, mounts) before exiting.
 */
export async function withLab<T>(tag: string, opts: Partial<LabOptions>, fn: (lab: RunningLab, scope: LabScope) => Promise<T>): Promise<T> {
  await labDownStale(LAB_FAMILY); // leftovers of a benchmark run that was killed
  const prefix = `${LAB_FAMILY}${process.pid % 10000}${tag}`;
  const dir = tempHome(`tower-bench-${tag}-`);
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`\n${sig}: tearing down lab ${prefix}\n`);
    void labDownPrefix(prefix).finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const stops: (() => unknown)[] = [];
  let n = 0;
  const scope: LabScope = {
    cleanup: (stop) => stops.push(stop),
    scratch: (name) => {
      const p = join(dir, `${name}-${++n}`);
      mkdirSync(p, { mode: 0o700 });
      return p;
    },
  };
  try {
    const lab = await labUp({ home: join(dir, 'home'), prefix, online: 1, offline: 0, ...opts });
    try {
      return await fn(lab, scope);
    } finally {
      for (const stop of stops.reverse()) {
        try {
          await stop();
        } catch (err) {
          process.stderr.write(`cleanup: ${(err as Error).message}\n`);
        }
      }
      await lab.down();
    }
  } finally {
    // idempotent; also covers a labUp that failed half-way
    await labDownPrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** A long-running child (a forwarder, a daemon) with its output kept, a bounded wait for a line, and a stop. */
export interface Background {
  proc: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  /** resolves with the first match in stdout+stderr; rejects when the process exits first or after timeoutMs */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then SIGKILL after 2 s */
  stop(): Promise<void>;
}

export function spawnBackground(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; lifetimeMs?: number } = {}): Background {
  // stdin stays an open pipe: a child that watches it (bench/lab-ssh2.ts) ends when this process does
  const proc = spawn(argv[0]!, argv.slice(1), { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let exitedCode: number | null | undefined;
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => {
    proc.once('exit', (code, signal) => r((exitedCode = code ?? (signal ? -1 : null))));
    proc.once('error', (e) => {
      err += `spawn failed: ${e.message}\n`;
      r((exitedCode = -1));
    });
  });
  // a hard bound on its life, whatever the benchmark does
  const lifetime = setTimeout(() => proc.kill('SIGKILL'), opts.lifetimeMs ?? 600_000);
  lifetime.unref();
  void exited.then(() => clearTimeout(lifetime));
  return {
    proc,
    pid: proc.pid ?? -1,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (re, timeoutMs) =>
      new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const check = () => {
          const m = (out + err).match(re);
          if (m) return resolve(m);
          if (exitedCode !== undefined) return reject(new Error(`\`${argv.join(' ')}\` exited (${exitedCode}) before printing ${re}:\n${err.slice(-2000)}`));
          if (Date.now() > deadline) return reject(new Error(`\`${argv.join(' ')}\` did not print ${re} within ${timeoutMs} ms:\n${err.slice(-2000)}`));
          setTimeout(check, 10);
        };
        check();
      }),
    stop: async () => {
      if (exitedCode !== undefined) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** CPU time of every thread of a process, in ns (schedstat: nanosecond resolution, unlike utime/stime ticks). */
export function cpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between readdir and read: its time is gone from the process too
      continue;
    }
  }
  return total;
}

/** CPU time of a process's main thread (JavaScript, I/O callbacks) in ns; the rest of cpuNs is its other threads (V8's GC and compiler workers, libuv's pool). */
export function mainThreadCpuNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);
}

/** user and system CPU of a process in seconds, from /proc/PID/stat (clock ticks of 10 ms): where cpuNs goes. */
export function cpuUserSystem(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

/** VmRSS / VmHWM of a process, and its proportional share of shared pages (Pss), in bytes. */
export function memBytes(pid: number): { rss: number; hwm: number; pss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb(status, 'VmRSS'), hwm: kb(status, 'VmHWM'), pss: kb(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss') };
}

/**
 * The server on a host, on 127.0.0.1:PORT. The first byte of a connection picks the mode:
 * `U` + 8-byte length: read that many bytes, then answer `k` (the upload is over when the host has it all);
 * `D` + 8-byte length: send that many bytes; `E`: echo until EOF.
 */
export const HOST_SERVER = String.raw`
import socket, struct, sys, threading
def serve(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    mode = c.recv(1)
    if mode in (b'U', b'D'):
        n = struct.unpack('>Q', c.recv(8, socket.MSG_WAITALL))[0]
        buf = bytearray(1 << 20); mv = memoryview(buf); done = 0
        while done < n:
            if mode == b'U':
                r = c.recv_into(mv, min(len(buf), n - done))
                if not r: break
            else:
                r = min(len(buf), n - done); c.sendall(mv[:r])
            done += r
        if mode == b'U': c.sendall(b'k')
    elif mode == b'E':
        while True:
            b = c.recv(65536)
            if not b: break
            c.sendall(b)
    c.close()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(64)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

/**
 * The thin client's side, run in its namespace; prints one JSON object.
 * `U PORT N` / `D PORT N`: upload / download N bytes through 127.0.0.1:PORT → {bytes, s}.
 * `P PORT COUNT SIZE`: COUNT echo round trips of SIZE bytes after 100 warm-up ones → {ns: [...]}.
 * `W PORT DEADLINE_MS`: until the deadline, try an echo through PORT → {at: epoch ms of the first success, attempts}.
 */
export const TC_CLIENT = String.raw`
import json, socket, struct, sys, time
mode, port = sys.argv[1], int(sys.argv[2])
def conn(timeout):
    s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s
if mode in ('U', 'D'):
    n = int(sys.argv[3]); s = conn(30)
    buf = bytearray(1 << 20); mv = memoryview(buf); done = 0
    t0 = time.perf_counter(); s.sendall(mode.encode() + struct.pack('>Q', n))
    while done < n:
        if mode == 'U':
            r = min(len(buf), n - done); s.sendall(mv[:r])
        else:
            r = s.recv_into(mv)
            if not r: raise SystemExit('connection closed after %d of %d bytes' % (done, n))
        done += r
    if mode == 'U' and s.recv(1) != b'k': raise SystemExit('no acknowledgement from the host')
    print(json.dumps({'bytes': n, 's': time.perf_counter() - t0}))
elif mode == 'P':
    count, size = int(sys.argv[3]), int(sys.argv[4]); s = conn(5); s.sendall(b'E')
    msg = b'x' * size; ns = []
    for i in range(count + 100):
        t0 = time.perf_counter_ns(); s.sendall(msg); got = 0
        while got < size:
            b = s.recv(size - got)
            if not b: raise SystemExit('connection closed')
            got += len(b)
        if i >= 100: ns.append(time.perf_counter_ns() - t0)
    print(json.dumps({'ns': ns}))
elif mode == 'W':
    deadline = time.time() + int(sys.argv[3]) / 1000; attempts = 0
    while time.time() < deadline:
        attempts += 1
        try:
            s = conn(max(0.1, min(4, deadline - time.time()))); s.sendall(b'Eping'); got = b''
            while len(got) < 4:
                b = s.recv(4 - len(got))
                if not b: break
                got += b
            s.close()
            if got == b'ping':
                print(json.dumps({'at': time.time() * 1000, 'attempts': attempts})); sys.exit(0)
        except OSError:
            pass
        time.sleep(0.01)
    print(json.dumps({'at': None, 'attempts': attempts}))
`;

/** Start HOST_SERVER on a host (as the login user, like any app there) and wait until it listens. */
export async function startHostServer(lab: RunningLab, host: string, port: number): Promise<void> {
  // the host's own sh (busybox ash on the Alpine-like profile, which has no nohup); the server outlives it anyway
  const r = await lab.execHost(host, ['sh', '-c', `${PYTHON} -c "$0" ${port} </dev/null >/dev/null 2>&1 & echo started`, HOST_SERVER], { user: lab.host(host).user });
  if (!r.stdout.includes('started')) throw new Error(`server on ${host} did not start: ${r.stderr}`);
  const ok = await lab.execHost(host, ['bash', '-c', `for i in $(seq 100); do ss -tln | grep -q '127.0.0.1:${port} ' && exit 0; sleep 0.05; done; exit 1`]);
  if (ok.code !== 0) throw new Error(`server on ${host} is not listening on 127.0.0.1:${port}`);
}

/** Run TC_CLIENT in the thin-client namespace and parse its answer. */
export async function tcClient<T>(lab: RunningLab, args: (string | number)[], timeoutMs: number): Promise<T> {
  const r = await lab.execTc([PYTHON, '-c', TC_CLIENT, ...args.map(String)], { timeoutMs });
  if (r.code !== 0) throw new Error(`client ${args.join(' ')} failed (${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(r.stdout) as T;
}
