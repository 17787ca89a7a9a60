import { execFile } from 'node:child_process';
import { createServer as createHttp, type Server } from 'node:http';
import { connect, createServer as createTcp, type AddressInfo, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clientHello } from '../helpers/tls.js';
import { RelayProxy, type ConnectPolicy, type RelayAudit } from '../../daemon/features/packages/relay/proxy.js';
import { checkConnect, checkUpstream, parseAuthority } from '../../daemon/features/packages/relay/policy.js';
import { DEFAULT_SETTINGS, Settings } from '../../daemon/core/settings.js';

const run = promisify(execFile);
let upstream: Server;
let tlsLike: ReturnType<typeof createTcp>;
let rawUp: ReturnType<typeof createTcp>;
let rawPort = 0;
/** an HTTP/1.1 server that keeps connections, answers the first request on each and drops the connection at the second */
let flaky: ReturnType<typeof createTcp>;
let flakyPort = 0;
let flakyConnections = 0;
let upstreamConnections = 0;
let tunnelConnections = 0;
/** what CONNECT may do; tests change it and put it back */
const DEFAULT_CONNECT: ConnectPolicy = { enabled: true, ports: [], maxMs: 60_000, maxBytes: 1 << 30, maxUploadBytes: 1 << 20 };
let connectPolicy: ConnectPolicy = DEFAULT_CONNECT;
/** the last request the upstream saw: its target and header fields */
let seen: { url: string; headers: Record<string, string | string[] | undefined> } | undefined;
const CHUNKS = ['a'.repeat(1000), 'b'.repeat(70_000), 'c'];
let proxy: RelayProxy;
let upPort = 0;
let tunnelPort = 0;
let proxyPort = 0;
const audits: RelayAudit[] = [];
const BODY = Buffer.alloc(256 * 1024, 7);

beforeAll(async () => {
  // the "internet": a repository over HTTP and a TLS-like echo service for CONNECT
  upstream = createHttp((req, res) => {
    seen = { url: req.url ?? '', headers: req.headers };
    if (req.url === '/chunked') {
      // no length: Node sends a chunked body to HTTP/1.1 requests
      res.writeHead(200, { 'content-type': 'text/plain' });
      let i = 0;
      const next = () => (i < CHUNKS.length ? res.write(CHUNKS[i++], () => setTimeout(next, 2)) : res.end());
      return next();
    }
    if (req.url === '/truncated') {
      res.writeHead(200, { 'content-length': 1000 });
      res.write('x'.repeat(10), () => res.socket?.destroy());
      return;
    }
    if (req.url === '/v3.19/main/x86_64/APKINDEX.tar.gz') {
      res.writeHead(200, { 'content-length': BODY.length, 'x-seen-host': req.headers.host ?? '' });
      return res.end(BODY);
    }
    res.writeHead(404).end();
  }).listen(0, '127.0.0.1');
  tlsLike = createTcp((s) => s.pipe(s)).listen(0, '127.0.0.1');
  // an HTTP/1.0 server whose answers end when it closes the connection
  rawUp = createTcp((s) => s.once('data', () => s.end('HTTP/1.0 200 OK\r\nServer: old\r\n\r\n' + 'z'.repeat(5000)))).listen(0, '127.0.0.1');
  flaky = createTcp((s) => {
    flakyConnections++;
    let n = 0;
    s.on('data', () => (++n === 1 ? s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok') : s.destroy()));
  }).listen(0, '127.0.0.1');
  upstream.on('connection', () => upstreamConnections++);
  tlsLike.on('connection', () => tunnelConnections++);
  await Promise.all([upstream, tlsLike, rawUp, flaky].map((x) => new Promise((r) => x.once('listening', r))));
  flakyPort = (flaky.address() as AddressInfo).port;
  upPort = (upstream.address() as AddressInfo).port;
  tunnelPort = (tlsLike.address() as AddressInfo).port;
  rawPort = (rawUp.address() as AddressInfo).port;
  DEFAULT_CONNECT.ports = [tunnelPort];
  proxy = new RelayProxy({
    hostName: 'vault',
    rules: () => [{ host: 'repo.test', ports: [upPort, tunnelPort, rawPort, flakyPort] }],
    connect: () => connectPolicy,
    // the router resolves names: here repo.test is the local upstream, anything else does not exist
    dial: (host, port) =>
      new Promise((resolve, reject) => {
        if (host !== 'repo.test') return reject(new Error(`getaddrinfo ENOTFOUND ${host}`));
        const s = connect(port, '127.0.0.1', () => resolve(s));
        s.once('error', reject);
      }),
    audit: (a) => audits.push(a),
  });
  proxy.server.listen(0, '127.0.0.1');
  await new Promise((r) => proxy.server.once('listening', r));
  proxyPort = (proxy.server.address() as AddressInfo).port;
});
afterAll(() => {
  upstream.close();
  tlsLike.close();
  rawUp.close();
  flaky.close();
  proxy.server.close();
});
beforeEach(() => {
  audits.length = 0;
  seen = undefined;
  connectPolicy = DEFAULT_CONNECT;
});

/** CONNECT, then `after` into the tunnel; everything the client gets back until the proxy closes (or `enough` is seen). */
function tunnel(target: string, after: Buffer, enough?: (got: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = connect(proxyPort, '127.0.0.1', () => s.write(Buffer.concat([Buffer.from(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`), after])));
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => {
      parts.push(d);
      if (enough?.(Buffer.concat(parts))) s.end();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(Buffer.concat(parts)));
  });
}

const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';

/** Real curl through the relay, as apk would go through http_proxy. */
async function curl(args: string[]): Promise<{ code: string; body: string }> {
  const r = await run('curl', ['-s', '-o', '-', '-w', '\n%{http_code}', '--proxy', `http://127.0.0.1:${proxyPort}`, ...args], { encoding: 'latin1', maxBuffer: 4 << 20 });
  const i = r.stdout.lastIndexOf('\n');
  return { body: r.stdout.slice(0, i), code: r.stdout.slice(i + 1) };
}

/** Two joined streams: what is written to one is read from the other, one chunk per write. */
function pair(): { proxySide: Duplex; peer: Duplex } {
  const make = (other: () => Duplex) => {
    let eof = false;
    const end = () => {
      if (!eof) {
        eof = true;
        other().push(null);
      }
    };
    return new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        other().push(chunk);
        cb();
      },
      final(cb) {
        end();
        cb();
      },
      destroy(err, cb) {
        end();
        cb(err);
      },
    });
  };
  const a: Duplex = make(() => b);
  const b: Duplex = make(() => a);
  return { proxySide: a, peer: b };
}

/** Everything a stream yields until it ends or closes. */
function collect(s: Duplex | Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('close', () => resolve(Buffer.concat(parts)));
    s.once('error', () => undefined);
  });
}

/** A raw TCP conversation with the proxy: the bytes sent, optionally a half-close, everything answered. */
async function raw(text: string, opts: { end?: boolean } = {}): Promise<string> {
  const s = connect(proxyPort, '127.0.0.1');
  const got = collect(s);
  s.write(text, 'latin1');
  if (opts.end) s.end();
  return (await got).toString('latin1');
}

/** Decode a chunked body (for checking what the proxy passed on). */
function unchunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    const n = parseInt(rest.slice(0, nl), 16);
    if (!n) return out;
    out += rest.slice(nl + 2, nl + 2 + n);
    rest = rest.slice(nl + 2 + n + 2);
  }
}

describe('package relay', () => {
  it('relays an allowed GET, with the size in the audit trail', async () => {
    const r = await curl([`http://repo.test:${upPort}/v3.19/main/x86_64/APKINDEX.tar.gz`]);
    expect(r.code).toBe('200');
    expect(Buffer.from(r.body, 'latin1').equals(BODY)).toBe(true);
    expect(audits).toEqual([{ host: 'vault', kind: 'fetch', method: 'GET', target: `http://repo.test:${upPort}/v3.19/main/x86_64/APKINDEX.tar.gz`, status: 200, bytes: BODY.length, sent: expect.any(Number) as number }]);
  });

  it.each([
    ['another host', () => [`http://evil.test:${upPort}/x`], /evil\.test is not an allowed repository host/],
    ['another port', () => [`http://repo.test:22/x`], /port 22 is not allowed for repo\.test/],
    ['POST', () => ['-X', 'POST', '-d', 'x', `http://repo.test:${upPort}/x`], /only GET and HEAD are relayed/],
  ])('refuses %s with 403 and records why', async (_what, args, why) => {
    const r = await curl(args());
    expect(r.code).toBe('403');
    expect(r.body).toMatch(why);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ kind: 'refused', reason: expect.stringMatching(why) });
  });

  it('refuses requests that are not proxy requests', async () => {
    const r = await run('curl', ['-s', '-w', '\n%{http_code}', `http://127.0.0.1:${proxyPort}/etc/passwd`], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/needs an absolute http:\/\/ URL\n+403$/);
  });

  it('tunnels CONNECT when the ClientHello names the host, byte for byte both ways, counting both', async () => {
    const hello = await clientHello('repo.test');
    const extra = Buffer.from('after the hello');
    const want = Buffer.concat([Buffer.from(ESTABLISHED), hello, extra]);
    const before = tunnelConnections;
    const got = await tunnel(`repo.test:${tunnelPort}`, Buffer.concat([hello, extra]), (b) => b.length >= want.length);
    expect(got.equals(want)).toBe(true);
    expect(tunnelConnections - before).toBe(1);
    await expect.poll(() => audits).toEqual([{ host: 'vault', kind: 'tunnel', method: 'CONNECT', target: `repo.test:${tunnelPort}`, bytes: hello.length + extra.length, sent: hello.length + extra.length }]);
    // another host is refused before any tunnel
    expect((await tunnel('elsewhere.test:443', hello)).toString()).toMatch(/^HTTP\/1\.1 403 Forbidden/);
  });

  it('refuses CONNECT to a port that is allowed for GET only: no raw tunnel to plain HTTP', async () => {
    const post = Buffer.from(`POST /upload HTTP/1.1\r\nHost: other.test\r\nContent-Length: 5\r\n\r\nhello`);
    const got = (await tunnel(`repo.test:${upPort}`, post)).toString('latin1');
    expect(got).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n[\s\S]*port \d+ is not allowed for CONNECT \(allowed: \d+\)/);
    expect(seen).toBeUndefined();
    expect(audits).toEqual([expect.objectContaining({ kind: 'refused', method: 'CONNECT', sent: 0, reason: `port ${upPort} is not allowed for CONNECT (allowed: ${tunnelPort})` })]);
  });

  it.each([
    ['another server name', () => clientHello('elsewhere.test'), 'the TLS ClientHello names elsewhere.test, not repo.test'],
    ['no server name', () => clientHello(''), 'the TLS ClientHello names no server (it must name repo.test)'],
    ['plain HTTP instead of TLS', () => Promise.resolve(Buffer.from('POST / HTTP/1.1\r\nHost: other.test\r\n\r\n')), 'not a TLS handshake (the tunnel must start with a ClientHello)'],
  ])('refuses a tunnel whose first bytes carry %s, before dialling the upstream', async (_what, first, reason) => {
    const before = tunnelConnections;
    const got = await tunnel(`repo.test:${tunnelPort}`, await first());
    // the 200 went out before the ClientHello could be read; then the tunnel is closed with nothing through it
    expect(got.toString('latin1')).toBe(ESTABLISHED);
    expect(tunnelConnections - before).toBe(0);
    expect(audits).toEqual([{ host: 'vault', kind: 'refused', method: 'CONNECT', target: `repo.test:${tunnelPort}`, bytes: 0, sent: 0, reason }]);
  });

  it('reads a ClientHello that arrives byte by byte after the CONNECT head', async () => {
    const { proxySide, peer } = pair();
    proxy.handle(proxySide);
    const parts: Buffer[] = [];
    peer.on('data', (d: Buffer) => parts.push(d));
    const hello = await clientHello('REPO.test');
    for (const ch of `CONNECT repo.test:${tunnelPort} HTTP/1.1\r\n\r\n`) peer.write(ch);
    for (const byte of hello) peer.write(Buffer.from([byte]));
    await expect.poll(() => Buffer.concat(parts).length).toBe(ESTABLISHED.length + hello.length);
    expect(Buffer.concat(parts).subarray(ESTABLISHED.length).equals(hello)).toBe(true);
    peer.end();
    await expect.poll(() => audits).toEqual([expect.objectContaining({ kind: 'tunnel', sent: hello.length, bytes: hello.length })]);
  });

  it('cuts a tunnel at its upload cap and at its lifetime, and says why', async () => {
    const hello = await clientHello('repo.test');
    connectPolicy = { ...DEFAULT_CONNECT, maxUploadBytes: hello.length + 1000 };
    await tunnel(`repo.test:${tunnelPort}`, Buffer.concat([hello, Buffer.alloc(5000, 1)]));
    await expect.poll(() => audits).toEqual([expect.objectContaining({ kind: 'tunnel', reason: `the host sent more than ${hello.length + 1000} bytes into the tunnel` })]);
    expect(audits[0]!.sent).toBeGreaterThan(hello.length + 1000);
    audits.length = 0;
    connectPolicy = { ...DEFAULT_CONNECT, maxBytes: 2 * hello.length + 10 };
    await tunnel(`repo.test:${tunnelPort}`, Buffer.concat([hello, Buffer.alloc(100, 1)]));
    await expect.poll(() => audits).toEqual([expect.objectContaining({ kind: 'tunnel', reason: `the tunnel carried more than ${2 * hello.length + 10} bytes` })]);
    audits.length = 0;
    connectPolicy = { ...DEFAULT_CONNECT, maxMs: 100 };
    // the echo keeps the tunnel open until its lifetime is over
    await tunnel(`repo.test:${tunnelPort}`, hello);
    await expect.poll(() => audits).toEqual([expect.objectContaining({ kind: 'tunnel', reason: 'the tunnel reached its lifetime of 0 s' })]);
  });

  it('refuses CONNECT when it is switched off', async () => {
    connectPolicy = { ...DEFAULT_CONNECT, enabled: false };
    const got = (await tunnel(`repo.test:${tunnelPort}`, await clientHello('repo.test'))).toString('latin1');
    expect(got).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n[\s\S]*CONNECT is switched off in the relay settings/);
  });

  it('reports an unreachable upstream as 502', async () => {
    const failing = new RelayProxy({ hostName: 'vault', rules: () => [{ host: 'down.test', ports: [80] }], connect: () => ({ ...DEFAULT_CONNECT, enabled: false }), dial: () => Promise.reject(new Error('router is offline')), audit: (a) => audits.push(a) });
    failing.server.listen(0, '127.0.0.1');
    await new Promise((r) => failing.server.once('listening', r));
    const port = (failing.server.address() as AddressInfo).port;
    const r = await run('curl', ['-s', '-w', '\n%{http_code}', '--proxy', `http://127.0.0.1:${port}`, 'http://down.test/x'], { encoding: 'utf8' });
    failing.server.close();
    expect(r.stdout).toMatch(/could not reach down\.test: router is offline\n+502$/);
    expect(audits[0]).toMatchObject({ kind: 'failed', reason: 'router is offline' });
  });

  it('reads a request head that arrives byte by byte, and answers pipelined requests in order on one connection', async () => {
    const { proxySide, peer } = pair();
    proxy.handle(proxySide);
    const got = collect(peer);
    const index = `http://repo.test:${upPort}/v3.19/main/x86_64/APKINDEX.tar.gz`;
    for (const ch of `GET ${index} HTTP/1.1\r\nHost: repo.test\r\n\r\n`) peer.write(ch);
    // two more in one chunk, before the first is answered
    peer.write(`HEAD ${index} HTTP/1.1\r\nHost: repo.test\r\n\r\nGET http://repo.test:${upPort}/chunked HTTP/1.1\r\nConnection: close\r\n\r\n`);
    const text = (await got).toString('latin1');
    const h1 = text.indexOf('\r\n\r\n') + 4;
    expect(text.slice(0, h1)).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*content-length: 262144\r\n[\s\S]*connection: keep-alive\r\n\r\n$/);
    expect(Buffer.from(text.slice(h1, h1 + BODY.length), 'latin1').equals(BODY)).toBe(true);
    const second = text.slice(h1 + BODY.length);
    const h2 = second.indexOf('\r\n\r\n') + 4;
    // HEAD: the length of the body it would have, and no body
    expect(second.slice(0, h2)).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*content-length: 262144\r\n/);
    const third = second.slice(h2);
    const h3 = third.indexOf('\r\n\r\n') + 4;
    expect(third.slice(0, h3)).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*transfer-encoding: chunked\r\n[\s\S]*connection: close\r\n\r\n$/);
    expect(unchunk(third.slice(h3))).toBe(CHUNKS.join(''));
    // audit sizes are payload bytes: the content length, nothing for HEAD, the chunks without their framing
    expect(audits.map((a) => [a.kind, a.method, a.status, a.bytes])).toEqual([
      ['fetch', 'GET', 200, BODY.length],
      ['fetch', 'HEAD', 200, 0],
      ['fetch', 'GET', 200, CHUNKS.join('').length],
    ]);
    // the proxy ended its side after the `Connection: close` answer; once the client ends too, nothing is left
    peer.end();
    await expect.poll(() => proxy.connections).toBe(0);
  });

  it('keeps the connection between requests (curl reuses it), and the upstream connection with it', async () => {
    const url = `http://repo.test:${upPort}/v3.19/main/x86_64/APKINDEX.tar.gz`;
    const before = upstreamConnections;
    const r = await run('curl', ['-s', '-o', '/dev/null', '-o', '/dev/null', '-w', '%{num_connects} %{size_download}\n', '--proxy', `http://127.0.0.1:${proxyPort}`, url, url], { encoding: 'utf8' });
    expect(r.stdout).toBe(`1 ${BODY.length}\n0 ${BODY.length}\n`);
    expect(upstreamConnections - before).toBe(1);
    expect(audits.map((a) => [a.kind, a.bytes])).toEqual([
      ['fetch', BODY.length],
      ['fetch', BODY.length],
    ]);
  });

  it('sends a request again on a new upstream connection when the kept one is dropped before answering', async () => {
    const url = `http://repo.test:${flakyPort}/x`;
    const before = flakyConnections;
    const r = await run('curl', ['-s', '-w', ' %{http_code}\n', '--proxy', `http://127.0.0.1:${proxyPort}`, url, url, url], { encoding: 'utf8' });
    expect(r.stdout).toBe('ok 200\nok 200\nok 200\n');
    expect(flakyConnections - before).toBe(3);
    expect(audits.map((a) => [a.kind, a.bytes])).toEqual([
      ['fetch', 2],
      ['fetch', 2],
      ['fetch', 2],
    ]);
  });

  it('passes a GET on in origin-form, without the fields of this hop', async () => {
    const text = await raw(
      `GET http://repo.test:${upPort}/echo?q=1 HTTP/1.1\r\nHost: elsewhere.test\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eDp5\r\nConnection: close, X-Private\r\nX-Private: secret\r\nKeep-Alive: 5\r\nAccept: */*\r\n\r\n`,
    );
    expect(text).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
    expect(seen?.url).toBe('/echo?q=1');
    expect(seen?.headers).toEqual({ host: `repo.test:${upPort}`, accept: '*/*', connection: 'close' });
    const sent = `GET /echo?q=1 HTTP/1.1\r\nhost: repo.test:${upPort}\r\naccept: */*\r\nconnection: close\r\n\r\n`;
    expect(audits).toEqual([{ host: 'vault', kind: 'fetch', method: 'GET', target: `http://repo.test:${upPort}/echo?q=1`, status: 404, bytes: 0, sent: sent.length }]);
  });

  it('passes on only the request fields a package fetch needs', async () => {
    const text = await raw(
      `GET http://repo.test:${upPort}/echo HTTP/1.1\r\nHost: repo.test\r\nUser-Agent: apk-tools/2.14\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nRange: bytes=0-9\r\nIf-Range: "e"\r\nIf-None-Match: "e"\r\nIf-Modified-Since: Tue, 01 Dec 2026 00:00:00 GMT\r\nCache-Control: no-cache\r\nPragma: no-cache\r\n` +
        `Cookie: session=1\r\nAuthorization: Basic eDp5\r\nX-Forwarded-For: 192.168.3.200\r\nForwarded: for=192.168.3.200\r\nVia: 1.1 host\r\nOrigin: http://other.test\r\nX-Anything: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    expect(text).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
    expect(seen?.headers).toEqual({
      host: `repo.test:${upPort}`,
      'user-agent': 'apk-tools/2.14',
      accept: '*/*',
      'accept-encoding': 'gzip',
      range: 'bytes=0-9',
      'if-range': '"e"',
      'if-none-match': '"e"',
      'if-modified-since': 'Tue, 01 Dec 2026 00:00:00 GMT',
      'cache-control': 'no-cache',
      pragma: 'no-cache',
      connection: 'close',
    });
  });

  it('refuses a request head over 16 KiB with 431', async () => {
    const text = await raw(`GET http://repo.test:${upPort}/x HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}`);
    expect(text).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n[\s\S]*larger than 16384 bytes/);
    expect(audits).toEqual([expect.objectContaining({ kind: 'refused', reason: 'the head is larger than 16384 bytes' })]);
  });

  it.each([
    ['PUT', (p: number) => `PUT http://repo.test:${p}/x HTTP/1.1\r\nContent-Length: 1\r\n\r\nx`, 403, /only GET and HEAD are relayed/],
    ['a lower-case get', (p: number) => `get http://repo.test:${p}/x HTTP/1.1\r\n\r\n`, 403, /only GET and HEAD are relayed/],
    ['a method that is not a token', (p: number) => `G@T http://repo.test:${p}/x HTTP/1.1\r\n\r\n`, 400, /not an HTTP\/1\.x request line/],
    ['HTTP/2 on the request line', (p: number) => `GET http://repo.test:${p}/x HTTP/2.0\r\n\r\n`, 400, /not an HTTP\/1\.x request line/],
    ['a folded header line', (p: number) => `GET http://repo.test:${p}/x HTTP/1.1\r\nA: 1\r\n 2\r\n\r\n`, 400, /folded/],
    ['a GET with a body', (p: number) => `GET http://repo.test:${p}/x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello`, 400, /request bodies are not relayed/],
    ['a chunked GET', (p: number) => `GET http://repo.test:${p}/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400, /Transfer-Encoding is not accepted on a request/],
    ['an empty Transfer-Encoding', (p: number) => `GET http://repo.test:${p}/x HTTP/1.1\r\nTransfer-Encoding: ,\r\n\r\n`, 400, /Transfer-Encoding is not accepted on a request/],
    ['a Transfer-Encoding with no value', (p: number) => `GET http://repo.test:${p}/x HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n`, 400, /Transfer-Encoding is not accepted on a request/],
    ['an identity Transfer-Encoding', (p: number) => `HEAD http://repo.test:${p}/x HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n`, 400, /Transfer-Encoding is not accepted on a request/],
    ['a Transfer-Encoding on CONNECT', () => `CONNECT repo.test:443 HTTP/1.1\r\nTransfer-Encoding: ,\r\n\r\n`, 400, /Transfer-Encoding is not accepted on a request/],
    ['ftp', () => `GET ftp://repo.test/x HTTP/1.1\r\n\r\n`, 403, /ftp: is not relayed/],
    ['credentials in the URL', (p: number) => `GET http://me:pw@repo.test:${p}/x HTTP/1.1\r\n\r\n`, 403, /credentials in URLs are not relayed/],
  ])('refuses %s with the right status, and records it', async (_what, req, status, why) => {
    const text = await raw(req(upPort));
    expect(text.slice(0, 12)).toBe(`HTTP/1.1 ${status}`);
    expect(text).toMatch(why);
    expect(text).toMatch(/\r\nconnection: close\r\n/);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ kind: 'refused', bytes: 0, reason: expect.stringMatching(why) });
    expect(seen).toBeUndefined();
  });

  it('relays answers that end when the upstream closes, and counts their bytes', async () => {
    const r = await curl([`http://repo.test:${rawPort}/old`]);
    expect(r.code).toBe('200');
    expect(r.body).toBe('z'.repeat(5000));
    expect(audits).toEqual([{ host: 'vault', kind: 'fetch', method: 'GET', target: `http://repo.test:${rawPort}/old`, status: 200, bytes: 5000, sent: expect.any(Number) as number }]);
  });

  it('cuts the connection when the upstream breaks off an answer, and records what got through', async () => {
    const text = await raw(`GET http://repo.test:${upPort}/truncated HTTP/1.1\r\n\r\n`);
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*content-length: 1000\r\n[\s\S]*\r\n\r\nx{10}$/);
    await expect.poll(() => audits).toEqual([expect.objectContaining({ kind: 'failed', bytes: 10, reason: 'the upstream closed before the end of its answer' })]);
  });

  it('answers a client that half-closes after its request', async () => {
    const text = await raw(`GET http://repo.test:${upPort}/v3.19/main/x86_64/APKINDEX.tar.gz HTTP/1.1\r\n\r\n`, { end: true });
    expect(text.length - text.indexOf('\r\n\r\n') - 4).toBe(BODY.length);
    expect(audits).toEqual([expect.objectContaining({ kind: 'fetch', bytes: BODY.length })]);
  });

  it('settings: CONNECT to 443 only by default, tunnels bounded, every bound checked', () => {
    expect(DEFAULT_SETTINGS.packages.relay).toEqual({
      allow: [{ host: 'dl-cdn.alpinelinux.org', ports: [80, 443] }],
      connect: true,
      connectPorts: [443],
      tunnelMaxMs: 1_800_000,
      tunnelMaxBytes: 4 * 1024 ** 3,
      tunnelMaxUploadBytes: 16 * 1024 * 1024,
    });
    const relay = (r: object) => Settings.safeParse({ packages: { relay: r } }).success;
    expect(relay({ connect: false, connectPorts: [443, 8443] })).toBe(true);
    for (const bad of [{ connectPorts: [] }, { connectPorts: [0] }, { connectPorts: [65536] }, { tunnelMaxMs: 10 }, { tunnelMaxBytes: 1e15 }, { tunnelMaxUploadBytes: 0 }, { connectPort: [443] }])
      expect(relay(bad), JSON.stringify(bad)).toBe(false);
  });

  it('policy helpers', () => {
    expect(checkUpstream([{ host: 'dl-cdn.alpinelinux.org', ports: [80, 443] }], 'DL-CDN.alpinelinux.org.', 443)).toEqual({ ok: true });
    expect(checkConnect([{ host: 'dl-cdn.alpinelinux.org', ports: [80, 443] }], [443], 'dl-cdn.alpinelinux.org', 80)).toEqual({ ok: false, reason: 'port 80 is not allowed for CONNECT (allowed: 443)' });
    expect(checkConnect([{ host: 'dl-cdn.alpinelinux.org', ports: [80] }], [443], 'dl-cdn.alpinelinux.org', 443)).toMatchObject({ ok: false, reason: expect.stringMatching(/port 443 is not allowed for dl-cdn/) });
    expect(checkConnect([{ host: 'dl-cdn.alpinelinux.org', ports: [80, 443] }], [443], 'dl-cdn.alpinelinux.org', 443)).toEqual({ ok: true });
    expect(parseAuthority('[::1]:443')).toEqual({ host: '::1', port: 443 });
    expect(parseAuthority('host:0')).toBeNull();
    expect(parseAuthority('host')).toBeNull();
  });
});
