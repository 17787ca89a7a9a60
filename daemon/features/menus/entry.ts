// Desktop entries from hosts (Desktop Entry Specification 1.5): untrusted bytes in, a bounded app or a reason out.
import { z } from 'zod';

/** What a host's desktop entry may say about an app, after parsing: every field bounded. */
export const HostEntry = z
  .object({
    name: z.string().min(1).max(200),
    genericName: z.string().max(200).nullable(),
    icon: z.string().min(1).max(1024).nullable(),
    /** Exec split into argv, field codes removed */
    argv: z.array(z.string().max(4096)).min(1).max(64),
    terminal: z.boolean(),
    categories: z.array(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/)).max(32),
  })
  .strict();
export type HostEntry = z.infer<typeof HostEntry>;

export class EntryError extends Error {}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Control characters are refused in every value we use (tabs and newlines too: names are one line). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** The general escapes of string values: \s \n \t \r \\ (spec § Value types); anything else after \ is kept. */
export function unescapeValue(v: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c !== '\\' || i + 1 >= v.length) {
      out += c;
      continue;
    }
    const n = v[++i]!;
    out += n === 's' ? ' ' : n === 'n' ? '\n' : n === 't' ? '\t' : n === 'r' ? '\r' : n === '\\' ? '\\' : '\\' + n;
  }
  return out;
}

/** The [Desktop Entry] group's keys without locale (`Name`, not `Name[de]`), raw values (escapes not yet applied). */
export function parseGroups(text: string): Map<string, string> {
  const lines = text.split(/\r?\n/);
  const keys = new Map<string, string>();
  let group: string | null = null;
  let seenGroup = false;
  for (const line of lines) {
    if (line === '' || line.startsWith('#')) continue;
    const g = /^\[([^[\]]{1,200})\]\s*$/.exec(line);
    if (g) {
      if (!seenGroup && g[1] !== 'Desktop Entry') throw new EntryError('the first group is not [Desktop Entry]');
      if (g[1] === 'Desktop Entry' && seenGroup) throw new EntryError('more than one [Desktop Entry] group');
      group = g[1]!;
      seenGroup = true;
      continue;
    }
    const kv = /^([A-Za-z0-9-]{1,64})(\[[A-Za-z0-9_@.-]{1,32}\])?\s*=\s*(.*)$/.exec(line);
    if (!kv) throw new EntryError(`a line that is neither a group, a key nor a comment: ${JSON.stringify(line.slice(0, 60))}`);
    if (group === null) throw new EntryError('a key before the first group');
    if (group !== 'Desktop Entry' || kv[2]) continue;
    if (keys.has(kv[1]!)) throw new EntryError(`the key ${kv[1]} appears twice`);
    keys.set(kv[1]!, kv[3]!);
  }
  if (!seenGroup) throw new EntryError('no [Desktop Entry] group');
  return keys;
}

function bool(keys: Map<string, string>, key: string): boolean {
  const v = keys.get(key);
  if (v === undefined) return false;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new EntryError(`${key} is neither true nor false`);
}

/** A list value (`a;b;c;`), `\;` for a literal semicolon. */
export function listValue(v: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\' && v[i + 1] === ';') {
      cur += ';';
      i++;
    } else if (c === ';') {
      out.push(unescapeValue(cur));
      cur = '';
    } else cur += c;
  }
  if (cur !== '') out.push(unescapeValue(cur));
  return out.filter((x) => x !== '');
}

function text1(keys: Map<string, string>, key: string, max: number): string | null {
  const raw = keys.get(key);
  if (raw === undefined) return null;
  const v = unescapeValue(raw).trim();
  if (v === '') return null;
  if (CONTROL.test(v)) throw new EntryError(`${key} has control characters`);
  if (v.length > max) throw new EntryError(`${key} is longer than ${max} characters`);
  return v;
}

/** Characters that the spec says an argument must be quoted to contain (§ The Exec key). */
const RESERVED = /[ \t\n"'\\><~|&;$*?#()`]/;

interface Word {
  text: string;
  quoted: boolean;
}

/**
 * Split an Exec value (general escapes already applied) into words by the spec's quoting rule: words separated by
 * spaces; a word may be one double-quoted string, inside which `"`, `` ` ``, `$` and `\` are written with a
 * backslash. An unquoted word is taken literally, reserved characters included (nothing here is a shell), but a
 * quote or a backslash inside one is ambiguous and refused.
 */
export function splitWords(exec: string): Word[] {
  const words: Word[] = [];
  let i = 0;
  while (i < exec.length) {
    const c = exec[i]!;
    if (c === ' ') {
      i++;
      continue;
    }
    if (c === '"') {
      let w = '';
      i++;
      for (;;) {
        if (i >= exec.length) throw new EntryError('Exec has an unterminated quote');
        const q = exec[i]!;
        if (q === '"') break;
        if (q === '\\') {
          const n = exec[i + 1];
          if (n === '"' || n === '`' || n === '$' || n === '\\') {
            w += n;
            i += 2;
            continue;
          }
          throw new EntryError('Exec has a backslash in quotes that escapes nothing');
        }
        if (q === '`' || q === '$') throw new EntryError('Exec has an unescaped ` or $ in quotes');
        w += q;
        i++;
      }
      i++;
      if (i < exec.length && exec[i] !== ' ') throw new EntryError('Exec has a quoted argument followed by more characters');
      words.push({ text: w, quoted: true });
      continue;
    }
    let w = '';
    while (i < exec.length && exec[i] !== ' ') {
      const u = exec[i]!;
      if (u === '"' || u === '\\') throw new EntryError('Exec has a quote or backslash inside an unquoted argument');
      w += u;
      i++;
    }
    words.push({ text: w, quoted: false });
  }
  return words;
}

export interface ExpandContext {
  /** Icon key (for %i) */
  icon: string | null;
  /** Name key (for %c) */
  name: string;
  /** the desktop file's path on the host (for %k) */
  location: string;
}

/**
 * The argv for launching with no files or URLs: `%f %F %u %U` vanish (a word of only them is dropped), `%%` is `%`,
 * `%i` becomes `--icon ICON` (nothing without Icon), `%c` the name, `%k` the file's path on the host; the deprecated
 * `%d %D %n %N %v %m` vanish. Any other `%` is invalid and refuses the entry.
 */
export function expandFieldCodes(words: Word[], ctx: ExpandContext): string[] {
  const argv: string[] = [];
  for (const w of words) {
    if (w.text === '%i') {
      if (ctx.icon) argv.push('--icon', ctx.icon);
      continue;
    }
    let out = '';
    let onlyCodes = w.text.length > 0;
    for (let i = 0; i < w.text.length; i++) {
      const c = w.text[i]!;
      if (c !== '%') {
        out += c;
        onlyCodes = false;
        continue;
      }
      const code = w.text[++i];
      if (code === undefined) throw new EntryError('Exec ends with a lone %');
      if (code === '%') {
        out += '%';
        onlyCodes = false;
      } else if ('fFuUdDnNvm'.includes(code)) {
        if (w.quoted && 'fFuU'.includes(code)) throw new EntryError(`Exec has the field code %${code} inside quotes`);
      } else if (code === 'c') {
        out += ctx.name;
        onlyCodes = false;
      } else if (code === 'k') {
        out += ctx.location;
        onlyCodes = false;
      } else throw new EntryError(`Exec has the unknown field code %${code}`);
    }
    if (onlyCodes && out === '') continue;
    argv.push(out);
  }
  return argv;
}

/** Split an Exec key's raw value as a launcher following the spec would, into the argv to start. */
export function execArgv(raw: string, ctx: ExpandContext): string[] {
  const exec = unescapeValue(raw);
  if (CONTROL.test(exec)) throw new EntryError('Exec has control characters');
  const argv = expandFieldCodes(splitWords(exec), ctx);
  if (argv.length === 0 || argv[0] === '') throw new EntryError('Exec names no program');
  if (argv.length > 64) throw new EntryError('Exec has more than 64 arguments');
  if (argv.some((a) => a.length > 4096)) throw new EntryError('Exec has an argument longer than 4096 characters');
  return argv;
}

/** Whether an argument must be quoted when written (reserved characters, or empty). */
export function needsQuotes(arg: string): boolean {
  return arg === '' || RESERVED.test(arg);
}

export type Parsed = { ok: true; entry: HostEntry } | { ok: false; hidden: true; reason: string } | { ok: false; hidden: false; reason: string };

/**
 * One desktop file from a host: UTF-8 only, the [Desktop Entry] group, Type=Application with a Name and an Exec.
 * NoDisplay, Hidden and OnlyShowIn (the thin client is no desktop environment that entries name) keep it out of
 * the menu; NotShowIn lists desktops we are not.
 */
export function parseEntry(bytes: Uint8Array, location: string): Parsed {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { ok: false, hidden: false, reason: 'not UTF-8' };
  }
  if (text.includes('\0')) return { ok: false, hidden: false, reason: 'has NUL bytes' };
  try {
    const keys = parseGroups(text.startsWith('\ufeff') ? text.slice(1) : text);
    const type = keys.get('Type');
    if (type !== 'Application') return { ok: false, hidden: true, reason: `Type is ${type === undefined ? 'missing' : JSON.stringify(type.slice(0, 40))}, not Application` };
    if (bool(keys, 'Hidden')) return { ok: false, hidden: true, reason: 'Hidden=true' };
    if (bool(keys, 'NoDisplay')) return { ok: false, hidden: true, reason: 'NoDisplay=true' };
    if (keys.has('OnlyShowIn') && listValue(keys.get('OnlyShowIn')!).length > 0) return { ok: false, hidden: true, reason: 'OnlyShowIn names other desktops' };
    const name = text1(keys, 'Name', 200);
    if (!name) throw new EntryError('no Name');
    const icon = text1(keys, 'Icon', 1024);
    const raw = keys.get('Exec');
    if (raw === undefined) throw new EntryError('no Exec');
    const argv = execArgv(raw, { icon, name, location });
    const categories = keys.has('Categories') ? listValue(keys.get('Categories')!).filter((c) => /^[A-Za-z0-9_-]{1,64}$/.test(c)).slice(0, 32) : [];
    const entry = HostEntry.parse({ name, genericName: text1(keys, 'GenericName', 200), icon, argv, terminal: bool(keys, 'Terminal'), categories });
    return { ok: true, entry };
  } catch (err) {
    if (err instanceof EntryError) return { ok: false, hidden: false, reason: err.message };
    if (err instanceof z.ZodError) return { ok: false, hidden: false, reason: err.issues[0]?.message ?? 'invalid' };
    throw err;
  }
}
