// The lab's Alpine-like host profile, checked from a login session as Tower sees it: busybox ash as /bin/sh and as
// the login shell, busybox applets first on PATH, `sudo` being doas, and a tool TowerOS's stock image lacks (Xvnc)
// absent until apk installs its Alpine package (tigervnc) from the lab's mirror of dl-cdn.alpinelinux.org.
// The Debian profile gets one smoke check here too.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labUp, type RunningLab } from '../lab/lab.js';
import { resolveOnHost } from '../lab/alpine/dns.js';
import { TOWER_HOST_PACKAGES, hostPackageSpecs } from '../lab/alpine/hostPackages.js';
import { buildRepo, createSigningKey, exportPublicKey } from '../lab/alpine/repo.js';
import { serveRepo, type RepoServer } from '../lab/alpine/serve.js';

const root = process.getuid?.() === 0;

describe.skipIf(!root)('alpine-like lab host (stock TowerOS package set)', () => {
  let lab: RunningLab;
  let home: string;
  let repoDir: string;
  let server: RepoServer;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'tower-alphost-home-'));
    repoDir = mkdtempSync(join(tmpdir(), 'tower-alphost-repo-'));
    const key = createSigningKey();
    // The mirror layout TowerOS's /etc/apk/repositories names: /alpine/v3.19/{main,community}
    for (const repo of ['main', 'community'] as const) {
      const names = new Set(TOWER_HOST_PACKAGES.filter((p) => (repo === 'main' ? p.alpine === 'main' : p.alpine !== 'main')).map((p) => p.name));
      buildRepo({ dir: join(repoDir, 'alpine'), repo, packages: hostPackageSpecs().filter((p) => names.has(p.name)), key });
    }
    const pub = exportPublicKey(key, join(repoDir, 'keys'));
    lab = await labUp({ prefix: `twlt${process.pid % 10000}ah`, home, online: 1, offline: 0, profile: 'alpine', hostPackages: [] });
    server = await serveRepo(lab, repoDir);
    await resolveOnHost(lab, 'on1');
    const k = await lab.execHost('on1', ['sh', '-c', 'mkdir -p /run/alpine/etc/apk/keys && cat > "/run/alpine/etc/apk/keys/$1"', 'sh', basename(pub)], { input: readFileSync(pub, 'utf8') });
    expect(k.stderr).toBe('');
  });

  afterAll(async () => {
    try {
      await server?.stop();
    } finally {
      try {
        await lab?.down();
      } finally {
        for (const d of [home, repoDir]) if (d) rmSync(d, { recursive: true, force: true });
      }
    }
  });

  /** A command in a login session on on1, as towerd runs it (sshd → the login shell → `-c`). */
  const ssh = (cmd: string) => lab.execTc(['ssh', '-F', `${lab.home}/.ssh/config`, 'on1', cmd], { timeoutMs: 30_000 });

  it('/bin/sh and the login shell are busybox ash; busybox applets come first on PATH', async () => {
    const r = await ssh('/bin/sh --help 2>&1 | head -n 1; [ "$(stat -L -c %d:%i /proc/$$/exe)" = "$(stat -L -c %d:%i /bin/busybox)" ] && echo login=busybox; for t in sh setsid od tar mktemp stat timeout; do readlink "$(command -v $t)"; done | sort -u; command -v bash || echo no-bash');
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^BusyBox v1\.\d+/);
    expect(lines).toContain('login=busybox');
    expect(lines.slice(2, -1)).toEqual(['/bin/busybox']);
    expect(lines.at(-1)).toBe('no-bash');
  });

  it('date is the lab\'s stand-in (README "Host clocks"), which hands everything but -s to busybox', async () => {
    const r = await ssh('readlink "$(command -v date)"; date -u -d @0 +%Y; date --help 2>&1 | head -n 1');
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['/run/lab/date', '1970', expect.stringMatching(/^BusyBox v1\.\d+/)]);
  });

  it('sudo is doas with TowerOS doas.conf: root without a password', async () => {
    const r = await ssh('readlink -f "$(command -v sudo)"; sudo cat /etc/doas.conf; sudo id -un; doas -n id -u');
    expect(r.stdout).toBe(`/usr/bin/doas\npermit nopass ${lab.host('on1').user} as root\nroot\n0\n`);
  });

  it('Xvnc is absent on a stock host and present after `sudo apk add tigervnc` through the stand-in', async () => {
    // absent for everything Tower runs (a PATH lookup); the machine's /usr/bin/Xvnc is still on disk (lab README)
    const before = await ssh('command -v Xvnc || echo absent; cat /run/alpine/etc/apk/world; echo .');
    expect(before.stdout).toBe('absent\n.\n');
    const add = await ssh('sudo apk add tigervnc');
    expect(add.stderr).toBe('');
    expect(add.stdout).toMatch(/Installing tigervnc \(1\.12\.0-r3\)/);
    expect(add.code).toBe(0);
    expect(server.requests()).toContain('GET /alpine/v3.19/community/x86_64/tigervnc-1.12.0-r3.apk');
    const after = await ssh('command -v Xvnc; Xvnc -version 2>&1 | grep -o TigerVNC | head -n 1; cat /run/alpine/etc/apk/world');
    expect(after.stdout).toBe('/run/alpine/usr/bin/Xvnc\nTigerVNC\ntigervnc\n');
  });
});

describe.skipIf(!root)('debian lab host (smoke)', () => {
  it('keeps the machine as it is: bash login shell, GNU tools, everything installed', async () => {
    const home = mkdtempSync(join(tmpdir(), 'tower-debhost-home-'));
    const lab = await labUp({ prefix: `twlt${process.pid % 10000}dh`, home, online: 1, offline: 0, router: false, profile: 'debian' });
    try {
      const r = await lab.execTc(['ssh', '-F', `${lab.home}/.ssh/config`, 'on1', 'echo $BASH_VERSION | cut -c1; readlink -f /bin/sh; command -v Xvnc; stat --version | head -n 1'], { timeoutMs: 30_000 });
      expect(r.stdout).toMatch(/^5\n\/usr\/bin\/dash\n\/usr\/bin\/Xvnc\nstat \(GNU coreutils\)/);
    } finally {
      await lab.down();
      rmSync(home, { recursive: true, force: true });
    }
  });
});
