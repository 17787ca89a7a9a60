import { spawn } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startDaemon, tempHome, waitForSocket } from '../test/helpers/towerd.js';
import { fmtMs, printRows, summarize, type Row } from './stats.js';

/** A line client that sends one request at a time and measures each round trip. */
function lineClient(path: string): Promise<{ rtt(line: string): Promise<number>; close(): void }> {
  return new Promise((resolve, reject) => {
    const s: Socket = createConnection(path, () => {
      let buf = '';
      let waiting: ((t: number) => void) | null = null;
      let t0 = 0;
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        buf += d;
        const nl = buf.indexOf('\n');
        if (nl >= 0) {
          buf = buf.slice(nl + 1);
          const w = waiting;
          waiting = null;
          w?.(performance.now() - t0);
        }
      });
      resolve({
        rtt: (line) =>
          new Promise((r) => {
            waiting = r;
            t0 = performance.now();
            s.write(line);
          }),
        close: () => s.destroy(),
      });
    });
    s.once('error', reject);
  });
}

/** Echo server in its own process: the floor any Unix-socket line protocol in Node can reach. */
async function startEcho(path: string): Promise<() => void> {
  const code = `require('net').createServer(s=>{let b='';s.setEncoding('utf8');s.on('data',d=>{b+=d;let i;while((i=b.indexOf('\\n'))>=0){const l=b.slice(0,i+1);b=b.slice(i+1);s.write(l)}})}).listen(${JSON.stringify(path)})`;
  const p = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  await waitForSocket(path);
  return () => p.kill('SIGKILL');
}

async function measure(path: string, clients: number, perClient: number): Promise<number[]> {
  const line = '{"jsonrpc":"2.0","id":1,"method":"daemon.info"}\n';
  const cs = await Promise.all(Array.from({ length: clients }, () => lineClient(path)));
  for (const c of cs) for (let i = 0; i < 20; i++) await c.rtt(line); // warm-up
  const samples: number[] = [];
  await Promise.all(
    cs.map(async (c) => {
      for (let i = 0; i < perClient; i++) samples.push(await c.rtt(line));
    }),
  );
  cs.forEach((c) => c.close());
  return samples;
}

export async function benchRpc(): Promise<Row[]> {
  const d = await startDaemon({ args: ['--log-level', 'warn'] });
  const echoPath = join(tempHome('echo-'), 'echo.sock');
  const stopEcho = await startEcho(echoPath);
  const rows: Row[] = [];
  try {
    for (const [clients, per] of [
      [1, 3000],
      [100, 60],
    ] as const) {
      const towerd = summarize(await measure(d.socket, clients, per));
      const echo = summarize(await measure(echoPath, clients, per));
      rows.push(
        { name: `rpc round trip, ${clients} client${clients > 1 ? 's' : ''}, median`, value: fmtMs(towerd.median), baseline: fmtMs(echo.median), ratio: towerd.median / echo.median },
        { name: `rpc round trip, ${clients} client${clients > 1 ? 's' : ''}, p99`, value: fmtMs(towerd.p99), baseline: fmtMs(echo.p99), ratio: towerd.p99 / echo.p99 },
      );
    }
  } finally {
    stopEcho();
    await d.stop();
  }
  printRows('JSON-RPC over the Unix socket (daemon.info; baseline: a bare Node echo server on a Unix socket)', rows);
  return rows;
}
