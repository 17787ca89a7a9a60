// The package relay for real: an offline host whose firewall drops all egress installs from the lab's Alpine
// repository (served as dl-cdn.alpinelinux.org in the lab internet) through towerd's relay and the router.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APK_ROOT as ROOT, APK_SETTINGS, CDN_MAIN, apkRepo, type ApkRepo } from '../helpers/apkRepo.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { towerctl } from '../helpers/towerd.js';
import { ALPINE_CDN } from '../lab/alpine/dns.js';
import { bigdataPackage, helloPackages } from '../lab/alpine/repo.js';
import type { RepoServer } from '../lab/alpine/serve.js';

const root = process.getuid?.() === 0;
/** A file's content, or null while it does not exist (the world file is saved just after apk exits). */
const readOrNull = (p: string): string | null => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
};
let t: LabDaemon;
let repo: ApkRepo;
let server: RepoServer;

/**
 * What a hostile package command on off1 tries through the relay (run in apk's place, with the relay in
 * https_proxy): real ClientHellos from Python's TLS, naming the repository, another site or nothing; plain HTTP
 * through CONNECT; CONNECT to port 80; a GET with an empty Transfer-Encoding and with fields of its own.
 */
const PROBE = String.raw`
import json, os, socket, ssl, urllib.parse
proxy = urllib.parse.urlsplit(os.environ["https_proxy"])
CDN = "dl-cdn.alpinelinux.org"
EST = b"HTTP/1.1 200 Connection Established\r\n\r\n"

def hello(name):
    ctx = ssl.create_default_context()
    if name is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname=name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()

def talk(data, enough):
    s = socket.create_connection((proxy.hostname, proxy.port), timeout=30)
    s.sendall(data)
    got = b""
    while len(got) < enough:
        c = s.recv(65536)
        if not c:
            break
        got += c
    s.close()
    return got

def connect(target, first, enough):
    return talk(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode() + first, enough)

res = {}
h = hello(CDN)
got = connect(CDN + ":443", h, len(EST) + len(h))
res["match"] = {"established": got.startswith(EST), "echoed": got[len(EST):] == h, "hello": len(h)}
# for the refused ones: anything after the 200 means the bytes went through
for name, first in (("other", hello("other.example")), ("none", hello(None)), ("plain", b"POST /up HTTP/1.1\r\nHost: other.example\r\nContent-Length: 5\r\n\r\nhello")):
    got = connect(CDN + ":443", first, len(EST) + 1)
    res[name] = got.decode("latin-1")
res["port80"] = connect(CDN + ":80", b"POST /up HTTP/1.1\r\nHost: other.example\r\nContent-Length: 5\r\n\r\nhello", 1 << 20).decode("latin-1").split("\r\n")[0]
index = "http://%s/v3.19/main/x86_64/APKINDEX.tar.gz" % CDN
res["te"] = talk(("GET %s HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: ,\r\nConnection: close\r\n\r\n" % (index, CDN)).encode(), 1 << 24).decode("latin-1").split("\r\n")[0]
res["fields"] = talk(("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: probe\r\nCookie: a=1\r\nX-Leak: 1\r\nForwarded: for=192.168.3.200\r\nConnection: close\r\n\r\n" % (index, CDN)).encode(), 1 << 24).decode("latin-1").split("\r\n")[0]
print(json.dumps(res))
`;

/** A TCP echo server on the lab internet's :443, saying `connection` on stdout for each one. */
async function echo443(): Promise<{ connections(): number; stop(): Promise<void> }> {
  const code = "const s = require('node:net').createServer((c) => { console.log('connection'); c.on('error', () => {}); c.pipe(c); }); s.listen(443, process.argv[1], () => console.log('listening'));";
  const argv = [...t.lab.internetSpawnPrefix(), 'timeout', '120', process.execPath, '-e', code, t.lab.internetIp];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  await expect.poll(() => out, { timeout: 5000 }).toContain('listening');
  return {
    connections: () => out.split('\n').filter((l) => l === 'connection').length,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** What a host looks like from inside, for before/after comparisons: its own /etc files, firewall and listeners. */
async function hostSnapshot(name: string): Promise<string> {
  const r = await t.lab.execHost(name, ['sh', '-c', 'cat /etc/hosts /etc/resolv.conf; nft list ruleset; ss -Htln | sort']);
  return r.stdout;
}

describe.skipIf(!root)('apk through the package relay', () => {
  beforeAll(async () => {
    // stock hosts; sound off: its forward's listener on the host goes with the connection when towerd dies, and the
    // crash test compares the host's listeners before and after
    t = await labDaemon('p', { online: 1, offline: 1, hostPackages: [] }, { packages: APK_SETTINGS, desktop: { sound: 'off' } });
    repo = await apkRepo(t.lab, ['off1', 'on1'], [...helloPackages('1.0-r0'), bigdataPackage(32 * 1024 * 1024)]);
    server = repo.server;
  });
  afterAll(async () => {
    await repo?.stop();
    await t?.close();
  });

  it('the offline host cannot reach the repository by itself', async () => {
    const r = await towerctl(t.d, ['exec', 'off1', '--', 'apk', 'update']);
    expect(r.code).not.toBe(0);
    const direct = await t.lab.execHost('off1', ['python3', '-c', `import socket; socket.create_connection(('${t.lab.internetIp}', 80), timeout=2)`]);
    expect(direct.code).not.toBe(0);
  });

  it('towerctl install on the offline host goes through the relay and the router; its world is saved', async () => {
    const before = await hostSnapshot('off1');
    const seen = server.requests().length;
    const r = await towerctl(t.d, ['install', 'off1', 'hello']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toMatch(/off1 is offline: apk goes through the package relay/);
    // index first, then the packages, all arriving from the router's side of the lab internet
    const reqs = server.requests().slice(seen);
    expect(reqs[0]).toMatch(/APKINDEX\.tar\.gz/);
    expect(reqs.join('\n')).toMatch(/libhello-1\.0-r0\.apk[\s\S]*hello-1\.0-r0\.apk|hello-1\.0-r0\.apk[\s\S]*libhello/);
    expect((await t.lab.execHost('off1', ['cat', `${ROOT}/usr/bin/hello`])).code).toBe(0);
    try {
      await expect.poll(() => readOrNull(join(t.lab.home, '.local/tower/hosts/off1/world')), { timeout: 3000 }).toBe('hello\n');
    } catch (e) {
      process.stderr.write('towerd log on failure:\n' + (await towerctl(t.d, ['logs', '-n', '14', '--level', 'debug'])).stdout + '\n');
      throw e;
    }
    // the relay kept a record per fetch and left nothing behind on the host
    const audit = JSON.parse((await towerctl(t.d, ['relay', 'off1', '--json'])).stdout) as { fetches: number; refusals: number; recent: { target: string }[] }[];
    expect(audit[0]!.fetches).toBeGreaterThanOrEqual(3);
    expect(audit[0]!.recent.map((x) => x.target).join(' ')).toContain(`http://${ALPINE_CDN}/v3.19/main/x86_64/APKINDEX.tar.gz`);
    await expect.poll(() => hostSnapshot('off1'), { timeout: 3000 }).toBe(before);
    // remove goes the same way
    const del = await towerctl(t.d, ['remove', 'off1', 'hello']);
    expect(del.code, del.stderr).toBe(0);
    await expect.poll(() => readOrNull(join(t.lab.home, '.local/tower/hosts/off1/world')), { timeout: 3000 }).toBe('');
  });

  it('online hosts go out directly, without the relay', async () => {
    const r = await towerctl(t.d, ['install', 'on1', 'hello']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/relay/);
    try {
      await expect.poll(() => readOrNull(join(t.lab.home, '.local/tower/hosts/on1/world')), { timeout: 3000 }).toBe('hello\n');
    } catch (e) {
      process.stderr.write('towerd log on failure:\n' + (await towerctl(t.d, ['logs', '-n', '12', '--level', 'debug'])).stdout + '\n');
      throw e;
    }
  });

  it('a repository host that is not allow-listed is refused and logged', async () => {
    // the host's own repositories file names another server (the lab internet by address)
    await repo.setRepositories('off1', [`http://${t.lab.internetIp}/v3.19/main`]);
    try {
      const r = await towerctl(t.d, ['install', 'off1', 'hello']);
      expect(r.code).not.toBe(0);
      const audit = JSON.parse((await towerctl(t.d, ['relay', 'off1', '--json'])).stdout) as { refusals: number; recent: { kind: string; reason?: string }[] }[];
      expect(audit[0]!.refusals).toBeGreaterThanOrEqual(1);
      expect(audit[0]!.recent[0]).toMatchObject({ kind: 'refused', reason: `${t.lab.internetIp} is not an allowed repository host` });
      const logs = await towerctl(t.d, ['logs', '--level', 'warn', '-n', '20']);
      expect(logs.stdout).toMatch(/relay refused .*not an allowed repository host/);
    } finally {
      await repo.setRepositories('off1', [CDN_MAIN]);
    }
  });

  it('CONNECT: only 443, only a TLS ClientHello naming the allowed host, counted both ways; GET heads are strict', async () => {
    const settingsFile = join(t.lab.home, '.config', 'tower', 'towerd.json');
    const original = readFileSync(settingsFile, 'utf8');
    const settings = JSON.parse(original) as { packages: object };
    writeFileSync(settingsFile, JSON.stringify({ ...settings, packages: { ...settings.packages, apk: ['python3', '-c', PROBE] } }));
    await t.client.call('daemon.reload');
    const tls = await echo443();
    const seen = server.records().length;
    try {
      const r = await towerctl(t.d, ['install', 'off1', 'probe']);
      expect(r.code, r.stderr).toBe(0);
      const res = JSON.parse(r.stdout) as { match: { established: boolean; echoed: boolean; hello: number }; other: string; none: string; plain: string; port80: string; te: string; fields: string };
      const EST = 'HTTP/1.1 200 Connection Established\r\n\r\n';
      // the matching name gets a tunnel to the lab internet's :443 and back, byte for byte
      expect(res.match).toEqual({ established: true, echoed: true, hello: expect.any(Number) as number });
      // the others got the 200 and then a closed tunnel, with nothing through it and no upstream connection
      expect([res.other, res.none, res.plain]).toEqual([EST, EST, EST]);
      expect(tls.connections()).toBe(1);
      expect(res.port80).toBe('HTTP/1.1 403 Forbidden');
      expect(res.te).toBe('HTTP/1.1 400 Bad Request');
      expect(res.fields).toBe('HTTP/1.1 200 OK');
      // the repository saw one request from the probe, with only the fields a fetch needs
      const reqs = server.records().slice(seen);
      expect(reqs.map((x) => x.userAgent)).toEqual(['probe']);
      expect(reqs[0]!.headers).toEqual(['host', 'user-agent', 'connection']);

      const audit = JSON.parse((await towerctl(t.d, ['relay', 'off1', '--json', '-n', '7'])).stdout) as { sent: number; recent: { kind: string; target: string; reason?: string; bytes: number; sent: number }[] }[];
      // a tunnel is recorded when it closes, which may come after the next connection's refusal
      const recent = audit[0]!.recent.slice().reverse();
      const hello = res.match.hello;
      const byText = (a: unknown[], b: unknown[]) => JSON.stringify(a).localeCompare(JSON.stringify(b));
      expect(recent.map((x) => [x.kind, x.target, x.reason]).sort(byText)).toEqual([
        ['tunnel', `${ALPINE_CDN}:443`, undefined],
        ['refused', `${ALPINE_CDN}:443`, `the TLS ClientHello names other.example, not ${ALPINE_CDN}`],
        ['refused', `${ALPINE_CDN}:443`, `the TLS ClientHello names no server (it must name ${ALPINE_CDN})`],
        ['refused', `${ALPINE_CDN}:443`, 'not a TLS handshake (the tunnel must start with a ClientHello)'],
        ['refused', `${ALPINE_CDN}:80`, 'port 80 is not allowed for CONNECT (allowed: 443)'],
        ['refused', `http://${ALPINE_CDN}/v3.19/main/x86_64/APKINDEX.tar.gz`, 'Transfer-Encoding is not accepted on a request'],
        ['fetch', `http://${ALPINE_CDN}/v3.19/main/x86_64/APKINDEX.tar.gz`, undefined],
      ].sort(byText));
      expect(recent.find((x) => x.kind === 'tunnel')).toMatchObject({ bytes: hello, sent: hello });
      expect(recent.find((x) => x.kind === 'fetch')!.sent).toBeGreaterThan(0);
      const text = (await towerctl(t.d, ['relay', 'off1', '-n', '7'])).stdout;
      expect(text).toMatch(/^off1: \d+ fetched \(\d+ bytes received, \d+ sent\)/);
      expect(text).toMatch(new RegExp(`tunnel +CONNECT ${ALPINE_CDN.replace(/\./g, '\\.')}:443 +${hello} +${hello}`));
    } finally {
      await tls.stop();
      writeFileSync(settingsFile, original);
      await t.client.call('daemon.reload');
    }
  });

  it('kill -9 of towerd in the middle of an install leaves the host exactly as before', async () => {
    const before = await hostSnapshot('off1');
    const { spawn } = await import('node:child_process');
    const { TOWERCTL } = await import('../helpers/towerd.js');
    const p = spawn(process.execPath, [TOWERCTL, 'install', 'off1', 'bigdata'], { env: t.d.env, stdio: 'ignore' });
    // as soon as the relay is serving the big package, kill towerd without a chance to clean up
    await expect.poll(() => server.requests().some((r) => r.includes('bigdata')), { timeout: 10_000, interval: 5 }).toBe(true);
    t.d.proc.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
    // the host's files, firewall and listeners come back to what they were (sshd drops the relay's listener)
    const deadline = Date.now() + 5000;
    let after = await hostSnapshot('off1');
    while (after !== before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      after = await hostSnapshot('off1');
    }
    expect(after).toBe(before);
    expect((await t.lab.execHost('off1', ['test', '-e', `${ROOT}/usr/share/bigdata`])).code).not.toBe(0);
  });
});
