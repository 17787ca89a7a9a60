// A real Alpine-layout package repository on disk: <dir>/<branch>/<repo>/<arch>/APKINDEX.tar.gz plus one
// <name>-<version>.apk per package, the layout apk fetches from (`<repository URL>/<arch>/...`).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApk } from './apkfile.js';
import { buildIndex, type IndexRecord } from './apkindex.js';
import type { SigningKey } from './sign.js';
import type { BuiltPackage, BuiltRepo, PackageSpec } from './types.js';

export type { BuiltPackage, BuiltRepo, FileSpec, PackageSpec } from './types.js';
export { createSigningKey, exportPublicKey, type SigningKey } from './sign.js';
export { bigdataPackage, helloPackages } from './packages.js';

export interface RepoOptions {
  /** Server root; the repository goes to <dir>/<branch>/<repo>/<arch>. */
  dir: string;
  /** Default 'v3.19' (TowerOS's ALPINE_BRANCH). */
  branch?: string;
  /** Default 'main'. */
  repo?: string;
  /** Default 'x86_64'. */
  arch?: string;
  packages: PackageSpec[];
  /** Signs the index and every package; without it both are unsigned (real apk then needs --allow-untrusted). */
  key?: SigningKey;
  /** DESCRIPTION in the index (what `apk update` prints). Default `<branch>-tower-lab`. */
  description?: string;
  /** Seconds since the epoch. Default now. Same options + same time = byte-identical files. */
  buildTime?: number;
  /** zlib level for data members (default 9); a lower level builds big packages faster. */
  level?: number;
}

/**
 * Writes (or rewrites) one repository. Earlier .apk files and the index in that arch directory are removed
 * first, so a rebuild with newer versions looks like the mirror after a package update.
 */
export function buildRepo(opts: RepoOptions): BuiltRepo {
  const branch = opts.branch ?? 'v3.19';
  const repo = opts.repo ?? 'main';
  const arch = opts.arch ?? 'x86_64';
  const buildTime = opts.buildTime ?? Math.floor(Date.now() / 1000);
  const repoPath = `${branch}/${repo}`;
  const archDir = join(opts.dir, branch, repo, arch);
  mkdirSync(archDir, { recursive: true });
  for (const f of readdirSync(archDir)) {
    if (f.endsWith('.apk') || f === 'APKINDEX.tar.gz') rmSync(join(archDir, f));
  }
  const seen = new Set<string>();
  const records: IndexRecord[] = [];
  const packages: BuiltPackage[] = [];
  for (const spec of opts.packages) {
    const fileName = `${spec.name}-${spec.version}.apk`;
    if (seen.has(fileName)) throw new Error(`buildRepo: ${fileName} listed twice`);
    seen.add(fileName);
    const apk = buildApk(spec, { arch, buildTime, key: opts.key, level: opts.level });
    const path = join(archDir, fileName);
    writeFileSync(path, apk.buffer);
    records.push({ spec, arch, checksum: apk.checksum, size: apk.buffer.length, installedSize: apk.installedSize, buildTime });
    packages.push({
      name: spec.name,
      version: spec.version,
      arch: spec.arch ?? arch,
      fileName,
      path,
      urlPath: `${repoPath}/${arch}/${fileName}`,
      size: apk.buffer.length,
      installedSize: apk.installedSize,
      checksum: apk.checksum,
      datahash: apk.datahash,
      members: apk.members,
      depends: spec.depends ?? [],
    });
  }
  const index = buildIndex(records, { description: opts.description ?? `${branch}-tower-lab`, buildTime, key: opts.key });
  const indexPath = join(archDir, 'APKINDEX.tar.gz');
  writeFileSync(indexPath, index.buffer);
  return {
    dir: opts.dir,
    branch,
    repo,
    arch,
    repoPath,
    indexPath,
    indexSize: index.buffer.length,
    indexMembers: index.members,
    indexText: index.text,
    packages,
    files: [`${repoPath}/${arch}/APKINDEX.tar.gz`, ...packages.map((p) => p.urlPath)],
    keyName: opts.key?.name ?? null,
  };
}
