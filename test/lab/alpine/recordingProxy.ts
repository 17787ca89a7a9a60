// A tiny forward proxy inside one lab host, on its 127.0.0.1, that records every request line it gets:
// enough to prove that a client (apk, the stand-in) sends absolute-form `GET http://…` through $http_proxy
// and `CONNECT host:port` for https. It forwards from that host's network, so it reaches what the host
// reaches. Bounded lifetime; stop() closes its stdin so it exits on its own and nsenter reaps it (killing
// nsenter instead leaves a zombie in the host that slows the lab's teardown); the parent-death signal is
// the fallback if the test process itself dies.
import { spawn } from 'node:child_process';
import { enterArgv } from '../enter.js';
import type { HostState } from '../lab.js';

export interface ProxyRecord {
  method: string;
  /** The request target exactly as received: `http://host/path` (absolute-form), `host:443`, or `/path`. */
  target: string;
  host?: string;
  status?: number;
}

export interface RecordingProxy {
  /** `http://127.0.0.1:<port>`: the value for http_proxy on that host. */
  url: string;
  port: number;
  records(): ProxyRecord[];
  /** "GET http://dl-cdn.alpinelinux.org/v3.19/main/x86_64/APKINDEX.tar.gz" … in arrival order. */
  requests(): string[];
  stop(): Promise<void>;
}

const PROXY = `
const [port, lifetimeMs] = process.argv.slice(1).map(Number);
const http = require('node:http'), net = require('node:net');
const say = (r) => process.stdout.write(JSON.stringify(r) + '\\n');
const srv = http.createServer((req, res) => {
  const rec = { method: req.method, target: req.url, host: req.headers.host };
  say(rec);
  let url;
  try { url = new URL(req.url); } catch { url = null; }
  if (!url || url.protocol !== 'http:') { res.writeHead(400); return res.end('absolute-form http:// URL required\\n'); }
  const headers = { ...req.headers };
  delete headers['proxy-connection'];
  const up = http.request({ host: url.hostname, port: url.port || 80, path: url.pathname + url.search, method: req.method, headers }, (ur) => {
    say({ target: req.url, status: ur.statusCode });
    res.writeHead(ur.statusCode, ur.headers);
    ur.pipe(res);
  });
  up.on('error', (e) => { res.writeHead(502); res.end(e.message + '\\n'); });
  req.pipe(up);
});
srv.on('connect', (req, sock, head) => {
  say({ method: 'CONNECT', target: req.url, host: req.headers.host });
  const [h, p] = req.url.split(':');
  const up = net.connect(Number(p), h, () => { sock.write('HTTP/1.1 200 Connection established\\r\\n\\r\\n'); up.write(head); up.pipe(sock); sock.pipe(up); });
  up.on('error', () => sock.end('HTTP/1.1 502 Bad Gateway\\r\\n\\r\\n'));
  sock.on('error', () => up.destroy());
});
srv.on('error', (e) => { console.error(e.message); process.exit(1); });
srv.listen(port, '127.0.0.1', () => say({ listening: true }));
setTimeout(() => process.exit(0), lifetimeMs);
process.stdin.on('end', () => process.exit(0)).resume();
`;

/** Starts the proxy inside `host` (a HostState from lab.host(name)) on 127.0.0.1:port. */
export function startRecordingProxy(host: Pick<HostState, 'name' | 'initPid'>, opts: { port?: number; lifetimeMs?: number } = {}): Promise<RecordingProxy> {
  const port = opts.port ?? 3128;
  const lifetimeMs = opts.lifetimeMs ?? 120_000;
  const argv = enterArgv(host.initPid, ['setpriv', '--pdeathsig', 'KILL', '--', process.execPath, '-e', PROXY, String(port), String(lifetimeMs)]);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const lines: ProxyRecord[] = [];
  let stderr = '';
  let buffered = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // still starting: no listener to be polite to
      reject(new Error(`recording proxy on ${host.name} did not start within 5 s: ${stderr}`));
    }, 5000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`recording proxy on ${host.name} exited with ${code}: ${stderr.trim()}`));
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buffered += d;
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        const r = JSON.parse(line) as ProxyRecord & { listening?: boolean };
        if (r.listening) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve({
            url: `http://127.0.0.1:${port}`,
            port,
            records: () => lines.filter((l) => l.method),
            requests: () => lines.filter((l) => l.method).map((l) => `${l.method} ${l.target}`),
            stop: async () => {
              child.stdin.end();
              const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
              await exited;
              clearTimeout(killer);
            },
          });
        } else if (r.method) {
          lines.push(r);
        } else {
          const req = [...lines].reverse().find((l) => l.target === r.target && l.status === undefined);
          if (req) req.status = r.status;
        }
      }
    });
  });
}
