import { execFile } from 'node:child_process';
import { createServer as createHttp, type Server } from 'node:http';
import { connect, createServer as createTcp, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RelayProxy, type RelayAudit } from '../../daemon/relay/proxy.js';
import { checkUpstream, parseAuthority } from '../../daemon/relay/policy.js';

const run = promisify(execFile);
let upstream: Server;
let tlsLike: ReturnType<typeof createTcp>;
let proxy: RelayProxy;
let upPort = 0;
let tunnelPort = 0;
let proxyPort = 0;
const audits: RelayAudit[] = [];
const BODY = Buffer.alloc(256 * 1024, 7);

beforeAll(async () => {
  // the "internet": a repository over HTTP and a TLS-like echo service for CONNECT
  upstream = createHttp((req, res) => {
    if (req.url === '/v3.19/main/x86_64/APKINDEX.tar.gz') {
      res.writeHead(200, { 'content-length': BODY.length, 'x-seen-host': req.headers.host ?? '' });
      return res.end(BODY);
    }
    res.writeHead(404).end();
  }).listen(0, '127.0.0.1');
  tlsLike = createTcp((s) => s.pipe(s)).listen(0, '127.0.0.1');
  await Promise.all([new Promise((r) => upstream.once('listening', r)), new Promise((r) => tlsLike.once('listening', r))]);
  upPort = (upstream.address() as AddressInfo).port;
  tunnelPort = (tlsLike.address() as AddressInfo).port;
  proxy = new RelayProxy({
    hostName: 'vault',
    rules: () => [{ host: 'repo.test', ports: [upPort, tunnelPort] }],
    allowConnect: () => true,
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
  proxy.server.close();
});
beforeEach(() => {
  audits.length = 0;
});

/** Real curl through the relay, as apk would go through http_proxy. */
async function curl(args: string[]): Promise<{ code: string; body: string }> {
  const r = await run('curl', ['-s', '-o', '-', '-w', '\n%{http_code}', '--proxy', `http://127.0.0.1:${proxyPort}`, ...args], { encoding: 'latin1', maxBuffer: 4 << 20 });
  const i = r.stdout.lastIndexOf('\n');
  return { body: r.stdout.slice(0, i), code: r.stdout.slice(i + 1) };
}

describe('package relay', () => {
  it('relays an allowed GET, with the size in the audit trail', async () => {
    const r = await curl([`http://repo.test:${upPort}/v3.19/main/x86_64/APKINDEX.tar.gz`]);
    expect(r.code).toBe('200');
    expect(Buffer.from(r.body, 'latin1').equals(BODY)).toBe(true);
    expect(audits).toEqual([{ host: 'vault', kind: 'fetch', method: 'GET', target: `http://repo.test:${upPort}/v3.19/main/x86_64/APKINDEX.tar.gz`, status: 200, bytes: BODY.length }]);
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

  it('tunnels CONNECT to an allowed host:port and refuses others', async () => {
    const talk = (target: string) =>
      new Promise<string>((resolve) => {
        const s = connect(proxyPort, '127.0.0.1', () => s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\nping`));
        let got = '';
        s.on('data', (d) => {
          got += d.toString();
          if (got.includes('ping') || got.includes('403')) s.end();
        });
        s.on('close', () => resolve(got));
      });
    expect(await talk(`repo.test:${tunnelPort}`)).toMatch(/^HTTP\/1\.1 200 Connection Established\r\n\r\nping/);
    expect(await talk('elsewhere.test:443')).toMatch(/^HTTP\/1\.1 403 Forbidden/);
    await expect.poll(() => audits.map((a) => a.kind).sort()).toEqual(['refused', 'tunnel']);
  });

  it('reports an unreachable upstream as 502', async () => {
    const failing = new RelayProxy({ hostName: 'vault', rules: () => [{ host: 'down.test', ports: [80] }], allowConnect: () => false, dial: () => Promise.reject(new Error('router is offline')), audit: (a) => audits.push(a) });
    failing.server.listen(0, '127.0.0.1');
    await new Promise((r) => failing.server.once('listening', r));
    const port = (failing.server.address() as AddressInfo).port;
    const r = await run('curl', ['-s', '-w', '\n%{http_code}', '--proxy', `http://127.0.0.1:${port}`, 'http://down.test/x'], { encoding: 'utf8' });
    failing.server.close();
    expect(r.stdout).toMatch(/could not reach down\.test: router is offline\n+502$/);
    expect(audits[0]).toMatchObject({ kind: 'failed', reason: 'router is offline' });
  });

  it('policy helpers', () => {
    expect(checkUpstream([{ host: 'dl-cdn.alpinelinux.org', ports: [80, 443] }], 'DL-CDN.alpinelinux.org.', 443)).toEqual({ ok: true });
    expect(parseAuthority('[::1]:443')).toEqual({ host: '::1', port: 443 });
    expect(parseAuthority('host:0')).toBeNull();
    expect(parseAuthority('host')).toBeNull();
  });
});
