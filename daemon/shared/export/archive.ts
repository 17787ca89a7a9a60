import { createHash } from 'node:crypto';
import { lineMatches, linePins, parseKnownHosts } from '../knownhosts.js';

/**
 * The thin client's own state as one JSON document (encrypted with age before it touches a disk; see crypto.ts):
 * the files of ~/.local/tower by relative path, Tower's known_hosts lines and towerd.json. JSON rather than tar:
 * the state is a few dozen small files, so a bounded document that is parsed whole and checked entry by entry has
 * no link, device, owner or path-prefix fields to get wrong, and needs no archive library.
 *
 * An archive read back is untrusted (whoever holds the passphrase made it): checkArchive accepts only the paths
 * Tower writes (`NAME` or `hosts/HOST/NAME`, plain file names), regular files, bounded sizes and counts, and
 * known_hosts lines that name one of the archive's own hosts.
 */
export const ARCHIVE_FORMAT = 'tower-state-export';
export const ARCHIVE_VERSION = 1;
/** one file of ~/.local/tower (keys, tower.env and crypto_keyfile.bin are a few KiB; world and state files less) */
export const MAX_FILE_BYTES = 1024 * 1024;
export const MAX_ENTRIES = 4096;
/** everything decoded; also bounds the encrypted file an import reads */
export const MAX_TOTAL_BYTES = 32 * 1024 * 1024;
export const MAX_KNOWN_HOSTS_LINES = 4096;
export const MAX_LINE_BYTES = 16 * 1024;
export const MAX_SETTINGS_BYTES = 1024 * 1024;

/** Where the last export is recorded (top level of ~/.local/tower); never exported itself. */
export const EXPORT_RECORD = 'export.json';

/** Files towerd rewrites as it runs: exported, but changing them does not make an export stale. */
export const STATE_FILES: ReadonlySet<string> = new Set(['updates.json', 'backup.json', 'world', 'provisioning', 'reinstall', 'files.log', 'files-pending.json']);

const FILE_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;
/** HOST_NAME_RE of protocol/host.ts (shared/ imports no schema) */
const HOST_RE = /^[a-z0-9](?:[a-z0-9-]{0,13}[a-z0-9])?$/;

export interface ArchiveFile {
  /** relative to ~/.local/tower: `config`, `tower.env`-like top-level names, or `hosts/HOST/FILE` */
  path: string;
  data: Buffer;
}

export interface StateArchive {
  createdAt: string;
  files: ArchiveFile[];
  /** Tower's lines of ~/.ssh/known_hosts, as they were */
  knownHosts: string[];
  /** ~/.config/tower/towerd.json, or null when there was none */
  settings: string | null;
}

/** Is `path` a place in ~/.local/tower where the archive may put a file? undefined when it is; else why not. */
export function pathProblem(path: string): string | undefined {
  if (path.length === 0 || path.length > 200) return 'empty or longer than 200 characters';
  if (path.startsWith('/')) return 'an absolute path';
  if (path.includes('\0') || path.includes('\\')) return 'a NUL or backslash in the path';
  const parts = path.split('/');
  if (parts.some((p) => p === '..' || p === '.' || p === '')) return 'a `..`, `.` or empty path component';
  if (parts.length === 1) {
    if (!FILE_NAME_RE.test(parts[0]!)) return 'not a plain file name';
    if (parts[0] === EXPORT_RECORD) return `${EXPORT_RECORD} is written by the import itself`;
    if (parts[0] === 'hosts') return '`hosts` is the hosts folder';
    return undefined;
  }
  if (parts.length === 3 && parts[0] === 'hosts') {
    if (!HOST_RE.test(parts[1]!)) return 'not a host name';
    if (!FILE_NAME_RE.test(parts[2]!)) return 'not a plain file name';
    return undefined;
  }
  return 'not `NAME` or `hosts/HOST/NAME`';
}

/** The hosts of an OpenSSH-format registry config and their addresses (`Host NAME` blocks with a `HostName`). */
export function configAddresses(text: string): { name: string; address: string }[] {
  const out: { name: string; address: string }[] = [];
  let current: { name: string; address: string | undefined } | undefined;
  const flush = () => {
    if (current?.address) out.push({ name: current.name, address: current.address });
    current = undefined;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z]+)\s*(?:=\s*|\s+)"?([^"\s]+)"?(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    if (key === 'host' || key === 'match') {
      flush();
      if (key === 'host' && !m[3]!.trim() && !/[*?!]/.test(m[2]!)) current = { name: m[2]!, address: undefined };
    } else if (key === 'hostname' && current && current.address === undefined) {
      current.address = m[2]!;
    }
  }
  flush();
  return out;
}

/** The names a pinned line for `address` can carry: `ADDR` (port 22) or `[ADDR]:PORT`. */
export function lookupNames(address: string, ports: readonly number[]): string[] {
  return [...new Set(ports.map((p) => (p === 22 ? address : `[${address}]:${p}`)))];
}

/** The SSH port towerd.json sets (`ssh.port`), else 22; an unreadable file means the default. */
export function settingsPort(settings: string | null): number {
  if (!settings) return 22;
  try {
    const port = (JSON.parse(settings) as { ssh?: { port?: unknown } } | null)?.ssh?.port;
    return typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536 ? port : 22;
  } catch {
    return 22;
  }
}

/**
 * A digest of what an export must hold: every file but the state files, Tower's known_hosts lines and towerd.json.
 * Equal digests mean a fresh export would restore the same registry.
 */
export function stateDigest(s: Pick<StateArchive, 'files' | 'knownHosts' | 'settings'>): string {
  const h = createHash('sha256');
  const files = s.files.filter((f) => !STATE_FILES.has(f.path.split('/').pop()!)).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const f of files) h.update(`file ${f.path} ${createHash('sha256').update(f.data).digest('hex')}\n`);
  for (const l of [...new Set(s.knownHosts.map((x) => x.trim()))].sort()) h.update(`known ${l}\n`);
  h.update(`settings ${s.settings === null ? '-' : createHash('sha256').update(s.settings).digest('hex')}\n`);
  return h.digest('hex');
}

/**
 * The registry config of another home made this one's: an `IdentityFile` naming a key of the archive by the
 * exporting machine's absolute path (`/home/alice/.local/tower/hosts/web/id_ed25519`, as towerd writes it) now
 * names the same file under `hostsDir`. `~/` paths (TowerOS's) and paths to anything else stay as they are.
 */
export function relocateIdentityFiles(config: string, hostsDir: string, inArchive: (rel: string) => boolean): string {
  const re = /^(\s*IdentityFile(?:\s*=\s*|\s+))("?)(\/[^"]*\/\.local\/tower\/hosts\/([^/"\s]+)\/([^/"\s]+))\2(\s*)$/i;
  return config
    .split('\n')
    .map((line) => {
      const m = re.exec(line);
      if (!m || !inArchive(`hosts/${m[4]}/${m[5]}`)) return line;
      const path = `${hostsDir}/${m[4]}/${m[5]}`;
      return `${m[1]}${/\s/.test(path) ? `"${path}"` : path}${m[6]}`;
    })
    .join('\n');
}

export function encodeArchive(a: StateArchive): Buffer {
  return Buffer.from(
    JSON.stringify({
      format: ARCHIVE_FORMAT,
      version: ARCHIVE_VERSION,
      createdAt: a.createdAt,
      files: a.files.map((f) => ({ path: f.path, type: 'file', data: f.data.toString('base64') })),
      knownHosts: a.knownHosts,
      settings: a.settings,
    }),
  );
}

export class ArchiveError extends Error {
  constructor(readonly problems: string[]) {
    super(`the export file's contents were refused: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`);
  }
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const KEYS = ['format', 'version', 'createdAt', 'files', 'knownHosts', 'settings'];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse and check a decrypted archive; every problem is named, and any problem refuses the whole archive. */
export function checkArchive(bytes: Uint8Array): StateArchive {
  if (bytes.length > MAX_TOTAL_BYTES * 1.5) throw new ArchiveError([`larger than ${MAX_TOTAL_BYTES * 1.5} bytes`]);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new ArchiveError(['not a Tower state export (not JSON)']);
  }
  if (!isRecord(doc) || doc.format !== ARCHIVE_FORMAT) throw new ArchiveError(['not a Tower state export']);
  if (doc.version !== ARCHIVE_VERSION) throw new ArchiveError([`format version ${String(doc.version).slice(0, 20)}; this towerctl reads ${ARCHIVE_VERSION}`]);
  const problems: string[] = [];
  for (const k of Object.keys(doc)) if (!KEYS.includes(k)) problems.push(`unknown field ${JSON.stringify(k.slice(0, 40))}`);
  const createdAt = typeof doc.createdAt === 'string' && doc.createdAt.length <= 40 && !Number.isNaN(Date.parse(doc.createdAt)) ? doc.createdAt : undefined;
  if (!createdAt) problems.push('createdAt is not a time');

  const files: ArchiveFile[] = [];
  const seen = new Set<string>();
  let total = 0;
  if (!Array.isArray(doc.files)) problems.push('files is not a list');
  else if (doc.files.length > MAX_ENTRIES) problems.push(`more than ${MAX_ENTRIES} files`);
  else {
    for (const [i, e] of doc.files.entries()) {
      if (!isRecord(e) || typeof e.path !== 'string') {
        problems.push(`files[${i}]: not {path, type, data}`);
        continue;
      }
      const name = JSON.stringify(e.path.slice(0, 200));
      if (Object.keys(e).some((k) => !['path', 'type', 'data'].includes(k))) problems.push(`${name}: unknown fields`);
      const bad = pathProblem(e.path);
      if (bad) problems.push(`${name}: ${bad}`);
      if (e.type !== 'file') problems.push(`${name}: a ${String(e.type).slice(0, 20)}, not a regular file`);
      if (seen.has(e.path)) problems.push(`${name}: twice`);
      seen.add(e.path);
      if (typeof e.data !== 'string' || !BASE64_RE.test(e.data) || e.data.length % 4 !== 0) {
        problems.push(`${name}: data is not base64`);
        continue;
      }
      const size = (e.data.length / 4) * 3 - (e.data.endsWith('==') ? 2 : e.data.endsWith('=') ? 1 : 0);
      if (size > MAX_FILE_BYTES) {
        problems.push(`${name}: ${size} bytes, over the ${MAX_FILE_BYTES}-byte cap`);
        continue;
      }
      total += size;
      if (!bad && e.type === 'file') files.push({ path: e.path, data: Buffer.from(e.data, 'base64') });
    }
    if (total > MAX_TOTAL_BYTES) problems.push(`${total} bytes in all, over the ${MAX_TOTAL_BYTES}-byte cap`);
  }
  const config = files.find((f) => f.path === 'config');
  if (!config && Array.isArray(doc.files)) problems.push('no registry `config` in it');
  const hosts = config ? configAddresses(config.data.toString('utf8')) : [];

  let settings: string | null = null;
  if (doc.settings !== null) {
    if (typeof doc.settings !== 'string' || Buffer.byteLength(doc.settings) > MAX_SETTINGS_BYTES) problems.push('towerd.json: not a string within the size cap');
    else {
      try {
        if (!isRecord(JSON.parse(doc.settings))) problems.push('towerd.json: not a JSON object');
        settings = doc.settings;
      } catch {
        problems.push('towerd.json: not JSON');
      }
    }
  }

  const knownHosts: string[] = [];
  if (!Array.isArray(doc.knownHosts) || doc.knownHosts.length > MAX_KNOWN_HOSTS_LINES) problems.push(`knownHosts: not a list of at most ${MAX_KNOWN_HOSTS_LINES} lines`);
  else {
    const names = hosts.flatMap((h) => lookupNames(h.address, [22, settingsPort(settings)]));
    for (const [i, l] of doc.knownHosts.entries()) {
      if (typeof l !== 'string' || l.length > MAX_LINE_BYTES || /[\r\n\0]/.test(l)) {
        problems.push(`knownHosts[${i}]: not one line within ${MAX_LINE_BYTES} bytes`);
        continue;
      }
      if (!isKnownHostsLine(l)) {
        problems.push(`knownHosts[${i}]: not a known_hosts line`);
        continue;
      }
      if (!names.some((n) => namesHost(l, n))) {
        problems.push(`knownHosts[${i}]: names none of the archive's hosts`);
        continue;
      }
      knownHosts.push(l.trim());
    }
  }
  if (problems.length) throw new ArchiveError(problems);
  return { createdAt: createdAt!, files, knownHosts, settings };
}

/** One well-formed known_hosts entry: `[@marker] hosts keytype base64`, within the line cap. */
export function isKnownHostsLine(line: string): boolean {
  if (line.length > MAX_LINE_BYTES || /[\r\n\0]/.test(line)) return false;
  const parsed = parseKnownHosts(line);
  return parsed.length === 1 && /^[A-Za-z0-9@._-]{1,100}$/.test(parsed[0]!.keyType) && BASE64_RE.test(parsed[0]!.key);
}

/** Is this known_hosts line one of Tower's for `name` (`ADDR` or `[ADDR]:PORT`): a pin, or a revocation matching it. */
export function namesHost(line: string, name: string): boolean {
  const [l] = parseKnownHosts(line);
  if (!l) return false;
  return linePins(l, name) || (l.marker === '@revoked' && lineMatches(l, name));
}
