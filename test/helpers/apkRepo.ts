// A signed Alpine repository served as dl-cdn.alpinelinux.org in a lab's internet, and the apk stand-in set up
// on lab hosts to use it: what the package tests and the demo need before `towerctl install`.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { RunningLab } from '../lab/lab.js';
import { ALPINE_CDN, resolveOnHost } from '../lab/alpine/dns.js';
import { installApkStandin } from '../lab/alpine/install.js';
import { buildRepo, createSigningKey, exportPublicKey, type PackageSpec } from '../lab/alpine/repo.js';
import { serveRepo, type RepoServer } from '../lab/alpine/serve.js';
import { APK_ROOT as HOST_APK_ROOT, defaultProfile } from '../lab/profile.js';

// On an Alpine-like host: the host's own apk (root /run/alpine), run as root through towerd's default `sudo`, which
// is doas there. On the Debian profile (no doas): the stand-in in the login user's /var/tmp/alpine, no privilege.
const alpine = defaultProfile() === 'alpine';
/** Where apk keeps its files on a lab host; each host's own tmpfs either way, never the machine's /. */
export const APK_ROOT = alpine ? HOST_APK_ROOT : '/var/tmp/alpine';
/** The packages settings in towerd.json for that apk. */
export const APK_SETTINGS: { privilege?: string[]; worldFile: string } = alpine ? { worldFile: `${APK_ROOT}/etc/apk/world` } : { privilege: [], worldFile: `${APK_ROOT}/etc/apk/world` };
/** Who sets up apk on a lab host: root on an Alpine-like host, else the login user who owns the stand-in. */
const SETUP_USER = alpine ? undefined : 'tower';
export const CDN_MAIN = `http://${ALPINE_CDN}/v3.19/main`;

export interface ApkRepo {
  server: RepoServer;
  /** Rewrites a host's repositories file (one URL a line). */
  setRepositories(host: string, urls: string[]): Promise<void>;
  /** Rewrites the repository with these packages (newer versions look like a mirror after a package update). */
  rebuild(packages: PackageSpec[]): void;
  stop(): Promise<void>;
}

/**
 * Builds and serves the repository, lets the router (whose sshd opens the relay's connections) and each online
 * host in `hosts` resolve the CDN name, and puts apk on each host in `hosts` with an initialised database under
 * APK_ROOT and the repository's key trusted.
 */
export async function apkRepo(lab: RunningLab, hosts: string[], packages: PackageSpec[]): Promise<ApkRepo> {
  const repoDir = mkdtempSync(join(tmpdir(), 'tower-pkg-repo-'));
  const keysDir = mkdtempSync(join(tmpdir(), 'tower-pkg-keys-'));
  let server: RepoServer | undefined;
  const cleanup = async () => {
    await server?.stop();
    rmSync(repoDir, { recursive: true, force: true });
    rmSync(keysDir, { recursive: true, force: true });
  };
  const setRepositories = async (host: string, urls: string[]) => {
    const r = await lab.execHost(host, ['sh', '-c', `printf '%s\\n' "$@" > ${APK_ROOT}/etc/apk/repositories`, 'sh', ...urls], { user: SETUP_USER });
    if (r.code !== 0) throw new Error(`cannot write ${host}'s apk repositories: ${r.stderr}`);
  };
  let rebuild: ((packages: PackageSpec[]) => void) | undefined;
  try {
    const key = createSigningKey();
    rebuild = (pkgs) => void buildRepo({ dir: repoDir, branch: 'v3.19', packages: pkgs, key });
    buildRepo({ dir: repoDir, branch: 'v3.19', packages, key });
    const pub = exportPublicKey(key, keysDir);
    server = await serveRepo(lab, repoDir);
    await resolveOnHost(lab, 'router');
    for (const h of hosts) {
      if (lab.host(h).role === 'online') await resolveOnHost(lab, h);
      if (!alpine) await installApkStandin(lab, h, { root: APK_ROOT, owner: 'tower' });
      // the key goes in on stdin: hosts have a private /tmp, so they cannot read the runner's files there
      const script = `mkdir -p ${APK_ROOT}/etc/apk/keys && printf '%s\\n' '${CDN_MAIN}' > ${APK_ROOT}/etc/apk/repositories && cat > ${APK_ROOT}/etc/apk/keys/${basename(pub)} && apk add --initdb >/dev/null`;
      const setup = await lab.execHost(h, ['sh', '-c', script], { user: SETUP_USER, input: readFileSync(pub, 'utf8') });
      if (setup.code !== 0) throw new Error(`apk setup on ${h}: ${setup.stderr}`);
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { server, setRepositories, rebuild, stop: cleanup };
}
