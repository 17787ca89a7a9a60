// The Alpine package path for real, inside the lab: a signed apk v2 repository built on disk, served over
// HTTP from the lab's internet namespace as dl-cdn.alpinelinux.org, and fetched by the apk stand-in on an
// online host (through the router's NAT), directly or through an HTTP proxy: index first, then packages,
// checked against the index, tampering refused, del/upgrade, the router resolving the CDN name, and the
// stand-in on the host's PATH for Tower's unchanged `ssh HOST apk …`.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labUp, type RunningLab } from '../lab/lab.js';
import { ALPINE_CDN, lookupOnHost, resolveOnHost, unresolveOnHost } from '../lab/alpine/dns.js';
import { installApkStandin, standinOnHost } from '../lab/alpine/install.js';
import { startRecordingProxy } from '../lab/alpine/recordingProxy.js';
import { bigdataPackage, buildRepo, createSigningKey, helloPackages, type BuiltRepo, type SigningKey } from '../lab/alpine/repo.js';
import { serveRepo, type RepoServer } from '../lab/alpine/serve.js';

const PREFIX = `twlt${process.pid % 10000}a`;
const BRANCH = 'v3.19';
const CDN_MAIN = `http://${ALPINE_CDN}/${BRANCH}/main`;
const INDEX = `/${BRANCH}/main/x86_64/APKINDEX.tar.gz`;
const pkgPath = (file: string): string => `/${BRANCH}/main/x86_64/${file}`;

describe.skipIf(process.getuid?.() !== 0)('alpine: apk v2 repository in the lab internet, apk stand-in on the hosts', () => {
  let lab: RunningLab;
  let home: string;
  let repoDir: string;
  let server: RepoServer;
  let key: SigningKey;
  let main: BuiltRepo;
  let roots = 0;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'tower-alpine-home-'));
    repoDir = mkdtempSync(join(tmpdir(), 'tower-alpine-repo-'));
    key = createSigningKey();
    main = buildRepo({ dir: repoDir, branch: BRANCH, packages: helloPackages('1.0-r0'), key });
    lab = await labUp({ prefix: PREFIX, home, online: 1, offline: 1 });
    server = await serveRepo(lab, repoDir);
    await resolveOnHost(lab, 'router');
    await resolveOnHost(lab, 'on1');
  });

  afterAll(async () => {
    // Each step runs even if an earlier one fails, so nothing outlives the test file.
    try {
      await server?.stop();
    } finally {
      try {
        await lab?.down(); // also kills anything still running in the lab's namespaces
      } finally {
        for (const d of [home, repoDir]) if (d) rmSync(d, { recursive: true, force: true });
      }
    }
  });

  /** The stand-in on a lab host, as root. */
  const apk = (args: string[], opts: { host?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) =>
    lab.execHost(opts.host ?? 'on1', [standinOnHost(lab, opts.host ?? 'on1'), ...args], { env: opts.env, timeoutMs: opts.timeoutMs ?? 60_000 });
  /** A root directory in on1's private /tmp, new for each use. */
  const freshRoot = (): string => `/tmp/apk-root-${++roots}`;
  const onHost = async (argv: string[], host = 'on1'): Promise<string> => {
    const r = await lab.execHost(host, argv, { timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(`${argv.join(' ')} on ${host}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const exists = async (path: string): Promise<boolean> => (await lab.execHost('on1', ['test', '-e', path])).code === 0;
  const requestsSince = (n: number): string[] => server.requests().slice(n);
  const installHello = async (root: string, extra: string[] = []) => {
    const r = await apk(['--root', root, '-X', CDN_MAIN, '--allow-untrusted', ...extra, 'add', '--initdb', 'hello']);
    expect(r.code, r.stderr).toBe(0);
    return r;
  };

  it('resolves dl-cdn.alpinelinux.org to the lab internet on the router (and on1), and nowhere else', async () => {
    expect(await lookupOnHost(lab, 'router')).toBe(lab.internetIp);
    expect(await lookupOnHost(lab, 'on1')).toBe(lab.internetIp);
    expect(await lookupOnHost(lab, 'off1')).toBeNull();
    expect(readFileSync('/etc/hosts', 'utf8')).not.toContain(ALPINE_CDN); // the machine's file is untouched
    const offHosts = await onHost(['cat', '/etc/hosts'], 'off1');
    await resolveOnHost(lab, 'off1');
    await resolveOnHost(lab, 'off1'); // idempotent
    expect((await onHost(['grep', '-c', ALPINE_CDN, '/etc/hosts'], 'off1')).trim()).toBe('1');
    await unresolveOnHost(lab, 'off1');
    expect(await lookupOnHost(lab, 'off1')).toBeNull();
    expect(await onHost(['cat', '/etc/hosts'], 'off1')).toBe(offHosts);

    // The relay's path: a direct-tcpip channel opened by the router's sshd, which resolves the name itself.
    const n = server.records().length;
    const r = await lab.execTc(['ssh', '-F', join(lab.home, '.ssh', 'config'), '-o', 'BatchMode=yes', '-W', `${ALPINE_CDN}:80`, 'router'], {
      input: `GET ${INDEX} HTTP/1.0\r\nHost: ${ALPINE_CDN}\r\n\r\n`,
      timeoutMs: 15_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(r.stdout).toContain(`content-length: ${main.indexSize}\r\n`);
    const [rec] = server.records().slice(n);
    expect(rec).toMatchObject({ method: 'GET', target: INDEX, status: 200, host: ALPINE_CDN, peer: '10.90.0.1' });
  });

  it('installs hello and its dependency on an online host: index first, then the packages, through the NAT', async () => {
    const root = freshRoot();
    const n = server.records().length;
    const t0 = Date.now();
    const r = await installHello(root);
    const elapsed = Date.now() - t0;
    expect(r.stdout).toContain(`fetch ${CDN_MAIN}/x86_64/APKINDEX.tar.gz\n`);
    expect(r.stdout).toContain('(1/2) Installing libhello (1.0-r0)\n(2/2) Installing hello (1.0-r0)\n');
    expect(r.stdout).toMatch(/^OK: \d+ B in 2 packages$/m);
    expect(requestsSince(n)).toEqual([`GET ${INDEX}`, `GET ${pkgPath('libhello-1.0-r0.apk')}`, `GET ${pkgPath('hello-1.0-r0.apk')}`]);
    for (const rec of server.records().slice(n)) expect(rec).toMatchObject({ status: 200, peer: '10.90.0.1', host: ALPINE_CDN });

    expect(await onHost(['sh', `${root}/usr/bin/hello`])).toBe('hello 1.0-r0\n');
    expect(await onHost(['cat', `${root}/usr/lib/libhello.so.1`])).toBe('libhello 1.0-r0\n');
    expect(await onHost(['cat', `${root}/etc/apk/world`])).toBe('hello\n');
    const installed = await onHost(['cat', `${root}/lib/apk/db/installed`]);
    for (const p of main.packages) expect(installed).toContain(`C:${p.checksum}\nP:${p.name}\nV:${p.version}\n`);
    expect(installed).toContain('F:usr/bin\nR:hello\na:0:0:755\n');
    // Tower's menu import lists a package's files like this (toweros-as-built §6.4).
    expect(await onHost([standinOnHost(lab, 'on1'), '--root', root, 'info', '-qL', 'hello'])).toBe('usr/bin/hello\nusr/share/applications/hello.desktop\n');
    console.log(`[alpine] apk add hello (index + 2 packages) from on1: ${elapsed} ms`);
  });

  it('trusts the signed index through the exported key, refuses it without the key or when tampered', async () => {
    const withKey = freshRoot();
    await onHost(['mkdir', '-p', `${withKey}/etc/apk/keys`]);
    const put = await lab.execHost('on1', ['sh', '-c', 'cat > "$1"', 'sh', `${withKey}/etc/apk/keys/${key.name}`], { input: key.publicKeyPem });
    expect(put.code, put.stderr).toBe(0);
    const ok = await apk(['--root', withKey, '-X', CDN_MAIN, 'add', '--initdb', 'hello']);
    expect(ok.code, ok.stderr).toBe(0);

    const noKey = await apk(['--root', freshRoot(), '-X', CDN_MAIN, 'add', '--initdb', 'hello']);
    expect(noKey.code).not.toBe(0);
    expect(noKey.stderr).toContain(`WARNING: updating and opening ${CDN_MAIN}: UNTRUSTED signature`);
    expect(noKey.stderr).toContain('ERROR: unable to select packages:\n  hello (no such package):\n    required by: world[hello]');

    // Same index with one byte of its signed member changed (the gzip MTIME: it still decompresses).
    const copy = buildRepo({ dir: repoDir, branch: `${BRANCH}-tampered`, packages: helloPackages('1.0-r0'), key });
    const tamperedRepo = copy.repoPath;
    const index = readFileSync(copy.indexPath);
    flipByte(index, copy.indexMembers.body[0] + 4);
    writeFileSync(copy.indexPath, index);
    for (const extra of [[], ['--allow-untrusted']]) {
      const bad = await apk(['--root', withKey, '-X', `http://${ALPINE_CDN}/${tamperedRepo}`, '--no-cache', ...extra, 'add', 'hello']);
      expect(bad.stderr).toContain(`WARNING: fetching http://${ALPINE_CDN}/${tamperedRepo}: BAD signature`);
    }
  });

  it('refuses a tampered .apk (one byte changed) with a checksum error and installs nothing', async () => {
    const hello = main.packages.find((p) => p.name === 'hello')!;
    const good = readFileSync(hello.path);
    const variants: [string, number][] = [
      ['control member (gzip header byte)', hello.members.control[0] + 4],
      ['control member (deflate data)', Math.floor((hello.members.control[0] + hello.members.control[1]) / 2)],
      ['data member (middle)', Math.floor((hello.members.data[0] + hello.members.data[1]) / 2)],
      ['data member (last byte)', hello.members.data[1] - 1],
    ];
    try {
      for (const [what, offset] of variants) {
        const bad = Buffer.from(good);
        flipByte(bad, offset);
        writeFileSync(hello.path, bad);
        const root = freshRoot();
        const r = await apk(['--root', root, '-X', CDN_MAIN, '--allow-untrusted', '-v', 'add', '--initdb', 'hello']);
        expect(r.code, what).not.toBe(0);
        expect(r.stderr, what).toContain('ERROR: hello-1.0-r0: v2 package integrity error\n');
        expect(r.stdout, what).toMatch(/checksum mismatch: (control member is Q1\S+, the index says C:Q1|data member does not match \.PKGINFO datahash)/);
        expect(r.stdout, what).toMatch(/^1 error; 0 B in 0 packages$/m);
        // All-or-nothing: libhello was fine and downloaded first, but nothing reached the root.
        expect(await exists(`${root}/usr`), what).toBe(false);
        expect(await onHost(['cat', `${root}/etc/apk/world`, `${root}/lib/apk/db/installed`]), what).toBe('');
      }
    } finally {
      writeFileSync(hello.path, good);
    }
    // And a size that differs from S: is refused before any hashing.
    try {
      writeFileSync(hello.path, Buffer.concat([good, Buffer.from([0])]));
      const r = await apk(['--root', freshRoot(), '-X', CDN_MAIN, '--allow-untrusted', '-v', 'add', '--initdb', 'hello']);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toContain(`size mismatch: downloaded ${good.length + 1} bytes, the index says S:${good.length}`);
    } finally {
      writeFileSync(hello.path, good);
    }
  });

  it('del removes the files, the world entry and the dependency nothing needs any more', async () => {
    const root = freshRoot();
    await installHello(root);
    const keep = await apk(['--root', root, 'del', 'libhello']);
    expect(keep.code, keep.stderr).toBe(0);
    expect(keep.stdout).toContain('World updated, but the following packages are not removed due to:\n  libhello: hello\n');

    const r = await apk(['--root', root, 'del', 'hello']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('(1/2) Purging hello (1.0-r0)\n(2/2) Purging libhello (1.0-r0)\nOK: 0 B in 0 packages\n');
    expect(await exists(`${root}/usr`)).toBe(false);
    expect(await onHost(['cat', `${root}/etc/apk/world`, `${root}/lib/apk/db/installed`])).toBe('');

    const none = await apk(['--root', root, 'del', 'nosuchpkg']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('ERROR: No such package: nosuchpkg');
  });

  it('upgrade takes the newer version once the repository is rebuilt (after the index cache allows it)', async () => {
    const root = freshRoot();
    await installHello(root);
    // If-Modified-Since has one-second resolution: let the rebuilt index be visibly newer.
    await new Promise((r) => setTimeout(r, 1100));
    const v2 = buildRepo({ dir: repoDir, branch: BRANCH, packages: helloPackages('1.1-r0'), key });
    try {
      // Like apk, a cached index younger than 4 h is used as is by a plain upgrade: nothing fetched.
      let n = server.records().length;
      const cached = await apk(['--root', root, '-X', CDN_MAIN, '--allow-untrusted', 'upgrade']);
      expect(cached.code, cached.stderr).toBe(0);
      expect(requestsSince(n)).toEqual([]);
      expect(await onHost(['sh', `${root}/usr/bin/hello`])).toBe('hello 1.0-r0\n');

      n = server.records().length;
      const r = await apk(['--root', root, '-X', CDN_MAIN, '--allow-untrusted', '-U', 'upgrade']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('(1/2) Upgrading libhello (1.0-r0 -> 1.1-r0)\n(2/2) Upgrading hello (1.0-r0 -> 1.1-r0)\n');
      expect(requestsSince(n)).toEqual([`GET ${INDEX}`, `GET ${pkgPath('libhello-1.1-r0.apk')}`, `GET ${pkgPath('hello-1.1-r0.apk')}`]);
      expect(server.records()[n]).toMatchObject({ status: 200 });
      expect(server.records()[n]!.ifModifiedSince).toMatch(/GMT$/); // the cached copy's time, as apk sends it
      expect(await onHost(['sh', `${root}/usr/bin/hello`])).toBe('hello 1.1-r0\n');
      const installed = await onHost(['cat', `${root}/lib/apk/db/installed`]);
      expect(installed).toContain(`C:${v2.packages[1]!.checksum}\nP:hello\nV:1.1-r0\n`);

      // Nothing changed since: `update` asks again and gets 304 Not Modified.
      n = server.records().length;
      const u = await apk(['--root', root, '-X', CDN_MAIN, '--allow-untrusted', 'update']);
      expect(u.code, u.stderr).toBe(0);
      expect(u.stdout).toBe(`fetch ${CDN_MAIN}/x86_64/APKINDEX.tar.gz\n${BRANCH}-tower-lab [${CDN_MAIN}]\nOK: 2 distinct packages available\n`);
      expect(server.records().slice(n)).toMatchObject([{ target: INDEX, status: 304 }]);
    } finally {
      main = buildRepo({ dir: repoDir, branch: BRANCH, packages: helloPackages('1.0-r0'), key });
    }
  });

  it('goes through $http_proxy with absolute-form requests (and CONNECT for https), as libfetch does', async () => {
    const proxy = await startRecordingProxy(lab.host('on1'), { port: 3128, lifetimeMs: 60_000 });
    try {
      const n = server.records().length;
      const r = await apk(['--root', freshRoot(), '-X', CDN_MAIN, '--allow-untrusted', '--no-cache', 'add', '--initdb', 'hello'], {
        env: { http_proxy: proxy.url },
      });
      expect(r.code, r.stderr).toBe(0);
      const absolute = [`GET http://${ALPINE_CDN}${INDEX}`, `GET http://${ALPINE_CDN}${pkgPath('libhello-1.0-r0.apk')}`, `GET http://${ALPINE_CDN}${pkgPath('hello-1.0-r0.apk')}`];
      expect(proxy.requests()).toEqual(absolute);
      expect(proxy.records().every((x) => x.host === ALPINE_CDN)).toBe(true);
      expect(requestsSince(n)).toEqual([`GET ${INDEX}`, `GET ${pkgPath('libhello-1.0-r0.apk')}`, `GET ${pkgPath('hello-1.0-r0.apk')}`]);

      // HTTP_PROXY wins over http_proxy (libfetch reads it first); no_proxy bypasses the proxy.
      const upper = await apk(['--root', freshRoot(), '-X', CDN_MAIN, '--allow-untrusted', '--no-cache', 'add', '--initdb', 'hello'], {
        env: { HTTP_PROXY: proxy.url, http_proxy: 'http://127.0.0.1:9' },
      });
      expect(upper.code, upper.stderr).toBe(0);
      expect(proxy.requests()).toEqual([...absolute, ...absolute]);
      const bypass = await apk(['--root', freshRoot(), '-X', CDN_MAIN, '--allow-untrusted', '--no-cache', 'add', '--initdb', 'hello'], {
        env: { http_proxy: proxy.url, no_proxy: ALPINE_CDN },
      });
      expect(bypass.code, bypass.stderr).toBe(0);
      expect(proxy.requests()).toHaveLength(6);

      // https goes through $https_proxy as CONNECT host:443. The lab internet has no TLS server, so it fails.
      const tls = await apk(['--root', freshRoot(), '-X', `https://${ALPINE_CDN}/${BRANCH}/main`, '--allow-untrusted', '--no-cache', 'add', '--initdb', 'hello'], {
        env: { https_proxy: proxy.url },
      });
      expect(tls.code).not.toBe(0);
      expect(proxy.requests()[6]).toBe(`CONNECT ${ALPINE_CDN}:443`);
      expect(tls.stderr).toContain(`WARNING: fetching https://${ALPINE_CDN}/${BRANCH}/main: remote server returned error`);
    } finally {
      await proxy.stop();
    }
  });

  it('an offline host cannot reach the repository at all (that is what the relay is for)', async () => {
    const byName = await apk(['--root', '/tmp/apk-off', '-X', CDN_MAIN, '--allow-untrusted', 'add', '--initdb', 'hello'], { host: 'off1' });
    expect(byName.code).not.toBe(0);
    expect(byName.stderr).toContain(`WARNING: updating and opening ${CDN_MAIN}: DNS lookup error`);
    const byIp = await apk(['--root', '/tmp/apk-off2', '-X', `${server.url}/${BRANCH}/main`, '--allow-untrusted', '--no-cache', 'add', '--initdb', 'hello'], { host: 'off1' });
    expect(byIp.code).not.toBe(0);
    expect(byIp.stderr).toContain(`WARNING: fetching ${server.url}/${BRANCH}/main: network connection error`);
  });

  it('moves a 20 MiB package through the lab internet (throughput baseline)', async () => {
    const t0 = Date.now();
    const community = buildRepo({ dir: repoDir, branch: BRANCH, repo: 'community', packages: [bigdataPackage(20 * 1024 * 1024)], key, level: 6 });
    const built = Date.now() - t0;
    const big = community.packages[0]!;
    const root = freshRoot();
    const t1 = Date.now();
    const r = await apk(['--root', root, '-X', CDN_MAIN, '-X', `http://${ALPINE_CDN}/${BRANCH}/community`, '--allow-untrusted', '--no-cache', 'add', '--initdb', 'bigdata'], { timeoutMs: 120_000 });
    const took = Date.now() - t1;
    expect(r.code, r.stderr).toBe(0);
    expect(await onHost(['stat', '-c', '%s', `${root}/usr/share/bigdata/blob.bin`])).toBe(`${20 * 1024 * 1024}\n`);
    const rec = server.records().find((x) => x.target === `/${BRANCH}/community/x86_64/bigdata-1.0-r0.apk`);
    expect(rec).toMatchObject({ status: 200, bytes: big.size, complete: true });
    console.log(`[alpine] bigdata: .apk ${(big.size / 2 ** 20).toFixed(1)} MiB built in ${built} ms; apk add on on1 took ${took} ms (${(big.size / 2 ** 20 / (took / 1000)).toFixed(0)} MiB/s end to end)`);
  });

  it('once installed on the host PATH, the unchanged `apk add --progress hello` works, also over ssh as the login user', async () => {
    if (lab.snapshot().profile === 'debian') {
      // Without a root the stand-in refuses the machine's shared / (the lab hosts share it).
      const refused = await apk(['-X', CDN_MAIN, '--allow-untrusted', 'add', 'hello']);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('refusing to use / as the root');
    } else {
      // An Alpine-like host has apk from the start, its root being the host's own /run/alpine.
      expect(await onHost(['sh', '-c', 'command -v apk; cat /run/apk-standin/root'])).toBe('/usr/local/bin/apk\n/run/alpine\n');
    }

    await installApkStandin(lab, 'on1', { root: '/var/tmp/alpine', owner: 'tower' });
    await lab.execHost('on1', ['sh', '-c', `mkdir -p /var/tmp/alpine/etc/apk && echo ${CDN_MAIN} > /var/tmp/alpine/etc/apk/repositories`], { user: 'tower' });
    expect(await onHost(['sh', '-c', 'command -v apk'])).toBe('/usr/local/bin/apk\n');
    // The overlay hides nothing of the machine's /usr/local/bin, and only on1's mount namespace changed.
    expect((await onHost(['ls', '/usr/local/bin'])).trim().split('\n').sort()).toEqual([...readdirSync('/usr/local/bin'), 'apk'].sort());
    expect(readdirSync('/usr/local/bin')).not.toContain('apk');

    // What Tower runs on an online host, over ssh as the login user.
    const ssh = (cmd: string) => lab.execTc(['ssh', '-F', join(lab.home, '.ssh', 'config'), '-o', 'BatchMode=yes', 'on1', cmd], { timeoutMs: 30_000 });
    const init = await ssh('apk add --initdb --allow-untrusted');
    expect(init.code, init.stderr).toBe(0);
    const r = await ssh('apk add --allow-untrusted --progress hello');
    expect(r.code, r.stderr).toBe(0);
    // apk's bar, forced on by --progress: save cursor, percentage and #s, restore cursor and clear the line.
    expect(r.stdout).toContain(`\x1b7100% ${'#'.repeat(44)}\x1b8\x1b[0K`);
    expect(r.stdout).toContain('(2/2) Installing hello (1.0-r0)');
    expect(await onHost(['sh', '/var/tmp/alpine/usr/bin/hello'])).toBe('hello 1.0-r0\n');
    expect(await onHost(['stat', '-c', '%U', '/var/tmp/alpine/usr/bin/hello'])).toBe('tower\n');
  });
});

function flipByte(buf: Buffer, offset: number): void {
  if (offset < 0 || offset >= buf.length) throw new Error(`offset ${offset} outside ${buf.length} bytes`);
  buf[offset] = buf[offset]! ^ 0xff;
}
