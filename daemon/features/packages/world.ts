import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { WORLD_ENTRY_RE, type WorldDiff } from '../../../protocol/packages.js';
import type { Core } from '../../core/feature.js';
import { TowerError } from '../../core/errors.js';
import { runCaptured } from '../../core/exec/run.js';
import { hostDir } from '../../shared/paths.js';
import type { HostSession } from '../../core/ssh/session.js';
import { readIfExists, writeFileAtomic } from '../../core/util/fs.js';

/** Bounds of a world file Tower reads: TowerOS hosts have a few dozen entries. */
export const WORLD_MAX_BYTES = 256 * 1024;
export const WORLD_MAX_ENTRIES = 5000;

/**
 * The entries of an apk world file: one per line (apk also separates them by spaces), blank lines skipped. Anything
 * that is not a package name with an optional @tag and version constraint is refused with its line number.
 */
export function parseWorld(text: string, what: string): string[] {
  if (Buffer.byteLength(text) > WORLD_MAX_BYTES) throw new TowerError('InvalidParams', `${what} is larger than ${WORLD_MAX_BYTES} bytes: not a world file`);
  const out: string[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    for (const entry of lines[i]!.replace(/\r$/, '').split(/[ \t]+/).filter(Boolean)) {
      if (!WORLD_ENTRY_RE.test(entry))
        throw new TowerError('InvalidParams', `${what} line ${i + 1}: ${JSON.stringify(entry.slice(0, 80))} is not an apk world entry (a package name, optionally @tag and a version constraint such as =1.2-r0)`);
      if (seen.has(entry)) continue;
      seen.add(entry);
      out.push(entry);
      if (out.length > WORLD_MAX_ENTRIES) throw new TowerError('InvalidParams', `${what} has more than ${WORLD_MAX_ENTRIES} entries`);
    }
  }
  return out;
}

/** The package name of a world entry (`foo@edge>=1` → `foo`). */
export function entryName(entry: string): string {
  return WORLD_ENTRY_RE.exec(entry)?.[1] ?? entry;
}

/** What restoring `wanted` on a host whose world is `current` installs, finds there already, and leaves alone. */
export function diffWorld(wanted: string[], current: string[]): Pick<WorldDiff, 'wanted' | 'missing' | 'present' | 'extra'> {
  const have = new Set(current);
  const names = new Set(wanted.map(entryName));
  return {
    wanted,
    missing: wanted.filter((e) => !have.has(e)),
    present: wanted.filter((e) => have.has(e)),
    extra: current.filter((e) => !names.has(entryName(e))),
  };
}

/** The host's /etc/apk/world (packages.worldFile), parsed; an absent file is an empty world. */
export async function readHostWorld(core: Pick<Core, 'settings'>, s: HostSession): Promise<string[]> {
  const file = core.settings().packages.worldFile;
  let r = await runCaptured(s, ['cat', file], 10_000, WORLD_MAX_BYTES + 1);
  for (let i = 0; i < 2 && r.code === null && s.connection; i++) r = await runCaptured(s, ['cat', file], 10_000, WORLD_MAX_BYTES + 1);
  if (r.code !== 0) {
    if (/No such file/.test(r.stderr)) return [];
    throw new TowerError('HostUnavailable', `cannot read ${file} on ${s.host.name}: ${r.code === null ? 'no exit status' : r.stderr.trim().slice(0, 300) || `cat exited with ${r.code}`}`);
  }
  return parseWorld(r.stdout, `${s.host.name}:${file}`);
}

/** The world saved for a host (hosts/NAME/world), or `text` given instead; compared with the host's own. */
export async function worldDiff(core: Pick<Core, 'settings' | 'paths' | 'connected'>, host: string, given?: { text: string; from?: string | undefined }): Promise<WorldDiff> {
  let wanted: string[];
  let source: string;
  if (given) {
    source = given.from ?? 'the given world';
    wanted = parseWorld(given.text, source);
  } else {
    source = join(hostDir(core.paths, host), 'world');
    const text = await readIfExists(source);
    if (text === undefined)
      throw new TowerError('InvalidParams', `no saved world for ${host} (${source}): it is saved after each towerctl install, remove or upgrade; give one with --from FILE`);
    wanted = parseWorld(text, source);
    source += ` (saved ${(await stat(source)).mtime.toISOString().slice(0, 19).replace('T', ' ')} UTC)`;
  }
  const s = core.connected(host);
  return { host, source, ...diffWorld(wanted, await readHostWorld(core, s)) };
}

/** After a change, keep the host's list of explicitly installed packages where TowerOS kept it. */
export async function saveWorld(core: Pick<Core, 'settings' | 'log' | 'paths'>, s: HostSession): Promise<void> {
  const file = core.settings().packages.worldFile;
  // a read that ends without an exit status while the host stays connected is tried again (the usual cause, a status
  // that came with the exec reply, is handled in core/exec/run.ts; this covers a channel lost on its own)
  let r = await runCaptured(s, ['cat', file], 10_000);
  for (let i = 0; i < 2 && r.code === null && s.connection; i++) r = await runCaptured(s, ['cat', file], 10_000);
  if (r.code !== 0) {
    core.log.warn({ host: s.host.name, file, code: r.code, stderr: r.stderr }, 'could not read the world file');
    return;
  }
  // one entry per line; anything else is not a world file and is not stored
  let lines: string[];
  try {
    lines = parseWorld(r.stdout, `${s.host.name}:${file}`);
  } catch (err) {
    core.log.warn({ host: s.host.name, file, error: (err as Error).message }, 'the world file does not look like one; not saved');
    return;
  }
  await writeFileAtomic(join(hostDir(core.paths, s.host.name), 'world'), lines.map((l) => l + '\n').join(''), 0o600);
  core.log.info({ host: s.host.name, packages: lines.length }, 'world saved');
}
