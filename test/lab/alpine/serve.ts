// Serves a repository directory over HTTP from the lab's internet namespace (lab.internetIp:80 by default,
// the port the relay's CDN allow-list expects), logging every request so tests can see what apk fetched.
// The server is a small node script with a bounded lifetime; the internet namespace shares the runner's
// mount namespace, so it reads `dir` and writes the log file directly.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab } from '../lab.js';

export interface RequestRecord {
  method: string;
  /** The request target as received (origin-form `/v3.19/...`, or absolute-form if a proxy forwarded it so). */
  target: string;
  /** HTTP status; 0 while the answer is still being sent. */
  status: number;
  /** Body bytes sent. */
  bytes: number;
  /** Whether the whole answer was handed to the kernel (false if the client went away first). */
  complete?: boolean;
  /** Peer address: the router's WAN address for lab hosts (NAT), 10.90.0.1. */
  peer: string;
  host?: string;
  userAgent?: string;
  ifModifiedSince?: string;
  /** the names of the request's header fields, lower-cased, in arrival order */
  headers?: string[];
}

export interface RepoServer {
  /** `http://<internetIp>` (with `:port` unless 80); append `/<branch>/<repo>` for an apk repository URL. */
  url: string;
  pid: number;
  logFile: string;
  /** "GET /v3.19/main/x86_64/APKINDEX.tar.gz" … in arrival order. */
  requests(): string[];
  records(): RequestRecord[];
  stop(): Promise<void>;
}

const SERVER = `
const [dir, ip, port, logFile, lifetimeMs] = process.argv.slice(1);
const http = require('node:http'), fs = require('node:fs'), path = require('node:path');
const root = path.resolve(dir);
const log = (r) => fs.appendFileSync(logFile, JSON.stringify(r) + '\\n');
let next = 0;
const srv = http.createServer((req, res) => {
  // Logged on arrival, before any byte of the answer leaves: a client that got its answer finds it logged.
  const id = ++next;
  log({ id, method: req.method, target: req.url, peer: req.socket.remoteAddress, host: req.headers.host,
    userAgent: req.headers['user-agent'], ifModifiedSince: req.headers['if-modified-since'],
    headers: req.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase()) });
  const rec = { bytes: 0 };
  res.on('close', () => log({ id, status: res.statusCode, bytes: rec.bytes, complete: res.writableFinished }));
  const end = (status, text) => { res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) }); res.end(text); };
  if (req.method !== 'GET' && req.method !== 'HEAD') return end(405, 'method not allowed\\n');
  let p;
  try { p = decodeURIComponent(new URL(req.url, 'http://x').pathname); } catch { return end(400, 'bad request\\n'); }
  const file = path.join(root, p);
  if (file !== root && !file.startsWith(root + path.sep)) return end(403, 'forbidden\\n');
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) return end(404, 'not found\\n');
    const mtime = Math.floor(st.mtimeMs / 1000);
    const ims = Date.parse(req.headers['if-modified-since'] || '');
    const headers = { 'content-type': 'application/octet-stream', 'last-modified': new Date(mtime * 1000).toUTCString() };
    if (!Number.isNaN(ims) && mtime <= Math.floor(ims / 1000)) { res.writeHead(304, headers); return res.end(); }
    res.writeHead(200, { ...headers, 'content-length': st.size });
    if (req.method === 'HEAD') return res.end();
    const s = fs.createReadStream(file);
    s.on('data', (c) => { rec.bytes += c.length; });
    s.on('error', () => res.destroy());
    s.pipe(res);
  });
});
// Answer clients that half-close after their request (\`ssh -W\` with a finished stdin, nc -N): node's
// default drops the response when the client's FIN arrives first.
srv.httpAllowHalfOpen = true;
srv.on('error', (e) => { console.error(e.message); process.exit(1); });
srv.listen(Number(port), ip, () => console.log('listening'));
setTimeout(() => process.exit(0), Number(lifetimeMs));
`;

/** Starts the server in the lab's internet namespace. It exits by itself after lifetimeMs (default 10 min). */
export function serveRepo(lab: Pick<Lab, 'internetIp' | 'internetSpawnPrefix'>, dir: string, opts: { port?: number; lifetimeMs?: number } = {}): Promise<RepoServer> {
  const port = opts.port ?? 80;
  const lifetimeMs = opts.lifetimeMs ?? 600_000;
  const logDir = mkdtempSync(join(tmpdir(), 'tower-lab-repo-log-'));
  const logFile = join(logDir, 'requests.jsonl');
  const argv = [...lab.internetSpawnPrefix(), process.execPath, '-e', SERVER, dir, lab.internetIp, String(port), logFile, String(lifetimeMs)];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const records = (): RequestRecord[] => {
    let text = '';
    try {
      text = readFileSync(logFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // Two lines per request: its arrival (method, target, headers) and its end (status, bytes).
    const byId = new Map<number, RequestRecord>();
    for (const line of text.split('\n').filter(Boolean)) {
      const r = JSON.parse(line) as Partial<RequestRecord> & { id: number };
      const { id, ...rest } = r;
      byId.set(id, { method: '', target: '', status: 0, bytes: 0, peer: '', ...byId.get(id), ...rest });
    }
    return [...byId.values()];
  };
  const server: RepoServer = {
    url: `http://${lab.internetIp}${port === 80 ? '' : `:${port}`}`,
    pid: 0,
    logFile,
    records,
    requests: () => records().map((r) => `${r.method} ${r.target}`),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(logDir, { recursive: true, force: true });
    },
  };
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer);
      rmSync(logDir, { recursive: true, force: true });
      reject(new Error(`repository server on ${lab.internetIp}:${port} ${why}: ${stderr.trim()}`));
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail('did not start within 5 s');
    }, 5000);
    child.once('error', (err) => fail(`cannot start (${err.message})`));
    child.once('exit', (code) => fail(`exited with ${code}`));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (!d.includes('listening')) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      server.pid = child.pid!;
      resolve(server);
    });
  });
}
