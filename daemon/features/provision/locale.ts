import { readFile } from 'node:fs/promises';

/**
 * TowerOS gives a new host the thin client's keyboard, time zone and language unless told otherwise. These read them
 * from the thin client: Alpine's /etc/conf.d/loadkmap (`KEYMAP=/etc/keymap/fr-azerty.bmap.gz`), Debian's
 * /etc/default/keyboard, the time zone Node resolves (TZ, /etc/localtime), and LANG.
 */
export interface LocaleDefaults {
  keyboardLayout: string;
  keyboardVariant: string;
  timezone: string;
  lang: string;
}

async function readOr(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

/** Layout and variant from the texts of /etc/conf.d/loadkmap and /etc/default/keyboard (either may be empty). */
export function keyboardFrom(loadkmap: string, debianKeyboard: string): { layout: string; variant: string } {
  const km = /^\s*KEYMAP=["']?(?:.*\/)?([A-Za-z0-9_-]+)\.bmap(?:\.gz)?["']?\s*$/m.exec(loadkmap);
  if (km) {
    const variant = km[1]!;
    const layout = /^[a-z]{2,5}/.exec(variant)?.[0];
    if (layout) return { layout, variant };
  }
  const layout = /^\s*XKBLAYOUT=["']?([a-z]{2,5})/m.exec(debianKeyboard)?.[1];
  if (layout) {
    const v = /^\s*XKBVARIANT=["']?([A-Za-z0-9_-]+)/m.exec(debianKeyboard)?.[1];
    return { layout, variant: v ? `${layout}-${v}` : layout };
  }
  return { layout: 'us', variant: 'us' };
}

export function langFrom(env: NodeJS.ProcessEnv): string {
  for (const v of [env.LC_ALL, env.LANG]) if (v && /^[a-z]{2,3}_[A-Z]{2}(?:\.[A-Za-z0-9-]+)?$/.test(v)) return v;
  return 'en_US.UTF-8';
}

export function timezoneHere(): string {
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+){0,2}$/.test(tz) ? tz : 'UTC';
}

export async function thinClientDefaults(): Promise<LocaleDefaults> {
  const kb = keyboardFrom(await readOr('/etc/conf.d/loadkmap'), await readOr('/etc/default/keyboard'));
  return { keyboardLayout: kb.layout, keyboardVariant: kb.variant, timezone: timezoneHere(), lang: langFrom(process.env) };
}
