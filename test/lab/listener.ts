// A tiny TCP server with a bounded lifetime, started in a lab namespace, to prove who can reach whom.
// Each connection gets `hello <peer address>`, which also shows NAT (the router's WAN address appears).
import { spawn } from 'node:child_process';

export interface Listener {
  pid: number;
  stop(): Promise<void>;
}

const SERVER = `
const [ip, port] = process.argv.slice(1);
// a peer that closes at once (a bare connect check) resets the greeting: that must not end the server
const srv = require('node:net').createServer((s) => { s.on('error', () => {}); s.end('hello ' + s.remoteAddress + '\\n'); });
srv.on('error', (e) => { console.error(e.message); process.exit(1); });
srv.listen(Number(port), ip, () => console.log('listening'));
`;

/** Starts the server through `spawnPrefix` (e.g. lab.internetSpawnPrefix()); it exits by itself after lifetimeMs. */
export function startTcpListener(spawnPrefix: readonly string[], ip: string, port: number, lifetimeMs = 30_000): Promise<Listener> {
  const seconds = String(Math.max(1, Math.ceil(lifetimeMs / 1000)));
  const argv = [...spawnPrefix, 'timeout', seconds, process.execPath, '-e', SERVER, ip, String(port)];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`listener on ${ip}:${port} did not start within 5 s: ${stderr}`));
    }, 5000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start listener: ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`listener on ${ip}:${port} exited with ${code}: ${stderr}`));
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (!d.includes('listening')) return;
      clearTimeout(timer);
      resolve({
        pid: child.pid!,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    });
  });
}
