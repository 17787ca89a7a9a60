// Menu entries on the thin client: one desktop entry per host app, written so that a launcher following the
// Desktop Entry Specification runs exactly `towerctl run HOST -- ARGV…`, and icons beside them.
import { mkdir, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { MenuApp } from '../../../protocol/index.js';
import { writeFileAtomic, isErrno } from '../../core/util/fs.js';
import { needsQuotes } from './entry.js';
import type { IconKind } from './icons.js';

/** The spec's registered main categories: the only host categories kept (others need a main one beside them). */
const MAIN_CATEGORIES = new Set(['AudioVideo', 'Audio', 'Video', 'Development', 'Education', 'Game', 'Graphics', 'Network', 'Office', 'Science', 'Settings', 'System', 'Utility']);

/** One argument as an Exec word: `%` doubled, quoted (with `"` `` ` `` `$` `\` escaped) when it has reserved characters. */
export function execWord(arg: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(arg)) throw new Error('an argument with control characters cannot be written');
  const p = arg.replace(/%/g, '%%');
  return needsQuotes(p) ? `"${p.replace(/["`$\\]/g, (c) => '\\' + c)}"` : p;
}

/** A string value: the general escapes (`\\` for a backslash) applied after the Exec quoting, as the spec orders. */
export function escapeValue(v: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new Error('a value with control characters cannot be written');
  return v.replace(/\\/g, '\\\\');
}

export function execValue(argv: string[]): string {
  return escapeValue(argv.map(execWord).join(' '));
}

export interface WriteApp {
  host: string;
  id: string;
  name: string;
  genericName: string | null;
  /** what towerctl run gets after `--` */
  argv: string[];
  categories: string[];
  /** the host entry said Terminal=true (argv then starts with menus.terminal) */
  terminal: boolean;
  icon: { kind: IconKind; size: string; data: Buffer } | null;
}

export interface MenuDirs {
  /** $XDG_DATA_HOME/applications/tower */
  applications: string;
  /** $XDG_DATA_HOME/icons/hicolor */
  icons: string;
}

export function menuDirs(dataHome: string): MenuDirs {
  return { applications: join(dataHome, 'applications', 'tower'), icons: join(dataHome, 'icons', 'hicolor') };
}

export const entryFile = (dirs: MenuDirs, host: string, id: string) => join(dirs.applications, host, `${id}.desktop`);
/** Icon names carry a dot after the host (host names have none): two hosts' icons never share a name. */
export const iconFile = (dirs: MenuDirs, host: string, id: string, kind: IconKind, size: string) => join(dirs.icons, size, 'apps', `tower-${host}.${id}.${kind}`);

/** The desktop entry written for a host's app. */
export function entryText(app: WriteApp, towerctl: string[], iconPath: string | null): string {
  const main = app.categories.filter((c) => MAIN_CATEGORIES.has(c));
  // a menu files an entry by its main category: one the host did not give is Utility
  const cats = [...(main.length ? main : ['Utility']), `X-Tower-${app.host}`];
  const lines = [
    '[Desktop Entry]',
    'Type=Application',
    'Version=1.4',
    `Name=${escapeValue(`[${app.host}] ${app.name}`)}`,
    ...(app.genericName ? [`GenericName=${escapeValue(app.genericName)}`] : []),
    `Comment=${escapeValue(`${app.name} on ${app.host}, through towerctl run`)}`,
    `Exec=${execValue([...towerctl, 'run', app.host, '--', ...app.argv])}`,
    ...(iconPath ? [`Icon=${escapeValue(iconPath)}`] : []),
    'Terminal=false',
    `Categories=${[...new Set(cats)].join(';')};`,
    `X-Tower-Host=${app.host}`,
    `X-Tower-App=${app.id}`,
  ];
  return lines.join('\n') + '\n';
}

async function writeIfChanged(path: string, data: string | Buffer): Promise<void> {
  try {
    const old = await readFile(path);
    if (old.equals(Buffer.from(data))) return;
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  await writeFileAtomic(path, data, 0o644);
}

/** Every icon of a host (or of all hosts), as paths. */
async function hostIcons(dirs: MenuDirs, host: string | null): Promise<string[]> {
  const out: string[] = [];
  let sizes: string[];
  try {
    sizes = await readdir(dirs.icons);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return out;
    throw err;
  }
  for (const s of sizes) {
    let names: string[];
    try {
      names = await readdir(join(dirs.icons, s, 'apps'));
    } catch {
      continue;
    }
    for (const n of names) if (host === null ? n.startsWith('tower-') : n.startsWith(`tower-${host}.`)) out.push(join(dirs.icons, s, 'apps', n));
  }
  return out;
}

/**
 * Make a host's menu folder hold exactly these apps: each entry and icon written atomically (and only when it
 * changed), then the entries and icons of apps no longer there removed. Returns what was written, for the API.
 */
export async function writeHostMenu(dirs: MenuDirs, host: string, apps: WriteApp[], towerctl: string[]): Promise<MenuApp[]> {
  const hostDir = join(dirs.applications, host);
  await mkdir(hostDir, { recursive: true });
  const out: MenuApp[] = [];
  const keepEntries = new Set<string>();
  const keepIcons = new Set<string>();
  for (const app of apps) {
    let iconPath: string | null = null;
    if (app.icon) {
      iconPath = iconFile(dirs, host, app.id, app.icon.kind, app.icon.size);
      await mkdir(join(dirs.icons, app.icon.size, 'apps'), { recursive: true });
      await writeIfChanged(iconPath, app.icon.data);
      keepIcons.add(iconPath);
    }
    const file = entryFile(dirs, host, app.id);
    await writeIfChanged(file, entryText(app, towerctl, iconPath));
    keepEntries.add(file);
    out.push({ host, id: app.id, name: app.name, genericName: app.genericName, argv: app.argv, terminal: app.terminal, categories: app.categories, icon: iconPath, file });
  }
  // icons first: an entry that is gone has no icon left behind
  for (const p of await hostIcons(dirs, host)) if (!keepIcons.has(p)) await unlink(p).catch(() => undefined);
  for (const n of await readdir(hostDir)) {
    const p = join(hostDir, n);
    if (!keepEntries.has(p)) await rm(p, { force: true, recursive: true });
  }
  return out;
}

/** Remove a host's entries and icons (host removed, or its menus turned off). */
export async function removeHostMenu(dirs: MenuDirs, host: string): Promise<void> {
  for (const p of await hostIcons(dirs, host)) await unlink(p).catch(() => undefined);
  await rm(join(dirs.applications, host), { recursive: true, force: true });
}

/** Hosts that have a menu folder here. */
export async function writtenHosts(dirs: MenuDirs): Promise<string[]> {
  try {
    return (await readdir(dirs.applications, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}
