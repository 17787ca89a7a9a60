import { chmod, lstat, mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../atomic.js';
import { parseKnownHosts, removeHostEntries } from '../knownhosts.js';
import type { Paths } from '../paths.js';
import {
  ArchiveError,
  EXPORT_RECORD,
  MAX_FILE_BYTES,
  MAX_TOTAL_BYTES,
  STATE_FILES,
  configAddresses,
  isKnownHostsLine,
  lookupNames,
  namesHost,
  pathProblem,
  relocateIdentityFiles,
  settingsPort,
  stateDigest,
  type ArchiveFile,
  type StateArchive,
} from './archive.js';

/** The thin client's state as read from disk, with what was left out and why. */
export interface Collected extends Omit<StateArchive, 'createdAt'> {
  skipped: { path: string; why: string }[];
  /** newest modification among the files an export must hold (state files not counted), ms since the epoch */
  changedAt: number | null;
  hostCount: number;
}

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (errno(err) === 'ENOENT') return null;
    throw err;
  }
}

export class NoRegistryError extends Error {}

/**
 * Read ~/.local/tower (top-level files and hosts/HOST/ files; no links, no deeper folders), Tower's known_hosts
 * lines (those naming a registry host's address) and towerd.json. Anything the archive could not carry is listed
 * in `skipped` rather than silently lost.
 */
export async function collectState(paths: Paths): Promise<Collected> {
  const files: ArchiveFile[] = [];
  const skipped: Collected['skipped'] = [];
  let changedAt: number | null = null;
  let total = 0;
  const take = async (rel: string, abs: string) => {
    const st = await lstat(abs);
    if (st.isSymbolicLink()) return skipped.push({ path: rel, why: 'a symbolic link' });
    if (!st.isFile()) return skipped.push({ path: rel, why: st.isDirectory() ? 'a folder' : 'not a regular file' });
    const bad = pathProblem(rel);
    if (bad) return skipped.push({ path: rel, why: bad });
    if (st.size > MAX_FILE_BYTES) return skipped.push({ path: rel, why: `${st.size} bytes, over the ${MAX_FILE_BYTES}-byte cap` });
    total += st.size;
    if (total > MAX_TOTAL_BYTES) throw new Error(`${paths.towerDir} holds more than ${MAX_TOTAL_BYTES} bytes: not exported`);
    files.push({ path: rel, data: await readFile(abs) });
    if (!STATE_FILES.has(rel.split('/').pop()!)) changedAt = Math.max(changedAt ?? 0, st.mtimeMs);
  };
  let top: string[];
  try {
    top = (await readdir(paths.towerDir)).sort();
  } catch (err) {
    if (errno(err) === 'ENOENT') throw new NoRegistryError(`no registry at ${paths.towerDir}`);
    throw err;
  }
  if (!top.includes('config')) throw new NoRegistryError(`no registry at ${paths.registry}`);
  for (const name of top) {
    if (name === EXPORT_RECORD || name.startsWith('.')) continue; // the record, and atomic writes' temporary files
    if (name !== 'hosts') {
      await take(name, join(paths.towerDir, name));
      continue;
    }
    const st = await lstat(paths.hostsDir);
    if (!st.isDirectory()) {
      skipped.push({ path: 'hosts', why: 'not a folder' });
      continue;
    }
    for (const host of (await readdir(paths.hostsDir)).sort()) {
      const dir = join(paths.hostsDir, host);
      const hs = await lstat(dir);
      if (!hs.isDirectory()) {
        skipped.push({ path: `hosts/${host}`, why: hs.isSymbolicLink() ? 'a symbolic link' : 'not a folder' });
        continue;
      }
      for (const f of (await readdir(dir)).sort()) if (!f.startsWith('.')) await take(`hosts/${host}/${f}`, join(dir, f));
    }
  }
  const config = files.find((f) => f.path === 'config')!.data.toString('utf8');
  const hosts = configAddresses(config);
  const settings = await readIfExists(paths.settings);
  if (settings !== null) {
    changedAt = Math.max(changedAt ?? 0, (await stat(paths.settings)).mtimeMs);
  }
  const names = hosts.flatMap((h) => lookupNames(h.address, [22, settingsPort(settings)]));
  const known = (await readIfExists(paths.knownHosts)) ?? '';
  const knownHosts: string[] = [];
  for (const l of known.split('\n').map((x) => x.trim())) {
    if (!l || l.startsWith('#') || !names.some((n) => namesHost(l, n))) continue;
    if (isKnownHostsLine(l)) knownHosts.push(l);
    else skipped.push({ path: `~/.ssh/known_hosts: ${l.slice(0, 60)}`, why: 'not a well-formed known_hosts line' });
  }
  return { files, knownHosts, settings, skipped, changedAt, hostCount: hosts.length };
}

/** What ~/.local/tower/export.json records of the last export (or of the export an import came from). */
export interface ExportRecord {
  version: 1;
  /** when the export file was written */
  at: string;
  /** the export file, as given (absolute) */
  file: string;
  /** stateDigest of what the export holds */
  digest: string;
  /** the registry's last change the export holds (newest file time), or null */
  registryChangedAt: string | null;
  /** set when this record was written by an import of that file */
  importedAt?: string;
}

export function recordPath(paths: Paths): string {
  return join(paths.towerDir, EXPORT_RECORD);
}

/** The record, or null when there is none or it does not read as one (then no export counts). */
export async function readExportRecord(paths: Paths): Promise<ExportRecord | null> {
  const text = await readIfExists(recordPath(paths));
  if (text === null || text.length > 64 * 1024) return null;
  try {
    const r = JSON.parse(text) as Partial<ExportRecord>;
    const iso = (v: unknown) => typeof v === 'string' && v.length <= 40 && !Number.isNaN(Date.parse(v));
    if (r.version !== 1 || !iso(r.at) || typeof r.file !== 'string' || r.file.length > 4096 || typeof r.digest !== 'string' || !/^[0-9a-f]{64}$/.test(r.digest)) return null;
    if (r.registryChangedAt !== null && !iso(r.registryChangedAt)) return null;
    return r as ExportRecord;
  } catch {
    return null;
  }
}

export async function writeExportRecord(paths: Paths, r: ExportRecord): Promise<void> {
  await writeFileAtomic(recordPath(paths), `${JSON.stringify(r, null, 2)}\n`, 0o600);
}

/** How the newest export compares with the registry now. */
export type ExportFreshness = 'current' | 'stale' | 'none' | 'no-hosts';

export interface ExportStatus {
  state: ExportFreshness;
  lastExportAt: string | null;
  file: string | null;
  registryChangedAt: string | null;
}

/**
 * `current`: the last export holds what is on disk now (state files aside). `stale`: the registry, a key, Tower's
 * known_hosts lines or towerd.json changed since. `none`: never exported. `no-hosts`: nothing to lose yet.
 */
export function freshness(c: Pick<Collected, 'files' | 'knownHosts' | 'settings' | 'hostCount'>, record: ExportRecord | null): ExportFreshness {
  if (c.hostCount === 0) return 'no-hosts';
  if (!record) return 'none';
  return record.digest === stateDigest(c) ? 'current' : 'stale';
}

export async function exportStatus(paths: Paths): Promise<ExportStatus> {
  const record = await readExportRecord(paths);
  let c: Collected;
  try {
    c = await collectState(paths);
  } catch (err) {
    if (err instanceof NoRegistryError) return { state: 'no-hosts', lastExportAt: record?.at ?? null, file: record?.file ?? null, registryChangedAt: null };
    throw err;
  }
  return {
    state: freshness(c, record),
    lastExportAt: record?.at ?? null,
    file: record?.file ?? null,
    registryChangedAt: c.changedAt === null ? null : new Date(c.changedAt).toISOString(),
  };
}

export class RegistryExistsError extends Error {}
export class UnsafePathError extends Error {}

/** A folder of ours: created 0700 if missing, refused when it is a link or someone else's, chmod 0700 otherwise. */
async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new UnsafePathError(`${dir} is not a folder (a link?): not written through`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new UnsafePathError(`${dir} belongs to uid ${st.uid}, not to us`);
  if ((st.mode & 0o777) !== 0o700) await chmod(dir, 0o700);
}

/** Refuse to replace a link or a folder with a file (the rename would replace a link, but say so rather than do it). */
async function plainTarget(path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (!st.isFile()) throw new UnsafePathError(`${path} exists and is not a regular file: not replaced`);
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw err;
  }
}

/** Does ~/.local/tower/config name at least one host? */
export async function registryHasHosts(paths: Paths): Promise<boolean> {
  const text = await readIfExists(paths.registry);
  return text !== null && configAddresses(text).length > 0;
}

export interface RestoreReport {
  /** the archive as written: its config's key paths made this home's */
  written: StateArchive;
  files: number;
  hosts: string[];
  knownHostsAdded: number;
  knownHostsPresent: number;
  /** earlier lines pinning one of the export's addresses to another key, removed */
  knownHostsReplaced: number;
  settings: 'written' | 'kept' | 'none';
  sshInclude: boolean;
}

/**
 * Put a checked archive on disk: the host folders' files first and `config` last (a running towerd's watcher then
 * sees a complete registry), every file 0600 in 0700 folders, written atomically; the export's known_hosts lines
 * added where missing, replacing earlier pins of its hosts' addresses; towerd.json only where there is none (or with force); the `Include` of the registry at the top
 * of ~/.ssh/config. Refuses a registry with hosts unless `force`.
 */
export async function restoreState(paths: Paths, a: StateArchive, opts: { force: boolean }): Promise<RestoreReport> {
  if (!opts.force && (await registryHasHosts(paths))) {
    throw new RegistryExistsError(`${paths.registry} already names hosts; pass --force to replace the registry's files with the export's`);
  }
  for (const f of a.files) {
    const bad = pathProblem(f.path);
    if (bad) throw new ArchiveError([`${f.path}: ${bad}`]); // checkArchive refused these already: never trust a caller
  }
  const archived = new Set(a.files.map((f) => f.path));
  const files = a.files.map((f) => (f.path === 'config' ? { path: f.path, data: Buffer.from(relocateIdentityFiles(f.data.toString('utf8'), paths.hostsDir, (p) => archived.has(p))) } : f));
  await mkdir(dirname(paths.towerDir), { recursive: true, mode: 0o755 });
  await privateDir(paths.towerDir);
  const ordered = [...files.filter((f) => f.path !== 'config'), ...files.filter((f) => f.path === 'config')];
  for (const f of ordered) {
    const parts = f.path.split('/');
    if (parts.length === 3) {
      await privateDir(paths.hostsDir);
      await privateDir(join(paths.hostsDir, parts[1]!));
    }
    const target = join(paths.towerDir, ...parts);
    await plainTarget(target);
    await writeFileAtomic(target, f.data, 0o600);
  }

  await privateDir(paths.sshDir);
  await plainTarget(paths.knownHosts);
  const existing = (await readIfExists(paths.knownHosts)) ?? '';
  const incoming = [...new Set(a.knownHosts)].filter((l) => parseKnownHosts(l).length === 1);
  const had = new Set(existing.split('\n').map((l) => l.trim()).filter(Boolean));
  // the export's pins become the pins of its hosts' addresses, as pinning a host does: an earlier key for one of
  // those addresses would otherwise still be trusted. Other hosts' lines, wildcards and revocations stay.
  const config = files.find((f) => f.path === 'config');
  const hosts = config ? configAddresses(config.data.toString('utf8')) : [];
  // and under the host's name, as pinning does: a plain `ssh NAME` would otherwise still accept an old key
  const names = hosts.flatMap((h) => [...lookupNames(h.address, [22, settingsPort(a.settings)]), h.name]);
  const keep: string[] = [];
  let replaced = 0;
  for (const raw of existing.split('\n')) {
    const [l] = parseKnownHosts(raw);
    if (!l || l.marker === '@revoked') {
      if (raw.trim()) keep.push(raw);
      continue;
    }
    const r = removeHostEntries(raw, names);
    if (r.removed === 0) keep.push(raw);
    else {
      if (!incoming.includes(raw.trim())) replaced++;
      if (r.text.trim()) keep.push(r.text);
    }
  }
  const kept = new Set(keep.map((l) => l.trim()));
  const merged = [...keep, ...incoming.filter((l) => !kept.has(l))];
  const add = incoming.filter((l) => !had.has(l));
  const next = merged.length ? `${merged.join('\n')}\n` : '';
  if (next !== existing) await writeFileAtomic(paths.knownHosts, next, 0o600);

  let settings: RestoreReport['settings'] = 'none';
  if (a.settings !== null) {
    const present = (await readIfExists(paths.settings)) !== null;
    if (!present || opts.force) {
      await privateDir(dirname(paths.settings));
      await plainTarget(paths.settings);
      await writeFileAtomic(paths.settings, a.settings, 0o600);
      settings = 'written';
    } else settings = 'kept';
  }

  const include = `Include ${paths.registry}\n`;
  await plainTarget(paths.sshConfig);
  const sshConfig = (await readIfExists(paths.sshConfig)) ?? '';
  const sshInclude = !sshConfig.split('\n').some((l) => l.trim() === include.trim());
  if (sshInclude) await writeFileAtomic(paths.sshConfig, sshConfig ? `${include}\n${sshConfig}` : include, 0o600);

  return {
    written: { ...a, files },
    files: a.files.length,
    hosts: hosts.map((h) => h.name),
    knownHostsAdded: add.length,
    knownHostsPresent: incoming.length - add.length,
    knownHostsReplaced: replaced,
    settings,
    sshInclude,
  };
}
