import * as z from 'zod/mini';
import type { AlpineRelease } from '../../../protocol/host.js';

/**
 * End of support of Alpine's stable branches (the main repository's security fixes), from Alpine's release page,
 * https://alpinelinux.org/releases/ ("end of support" column), checked against https://endoflife.date/alpine.
 * A branch reaches it about two years after its release; a new one is added here with each May and November
 * release. `edge` is the development branch and has none.
 */
export const ALPINE_EOL: Readonly<Record<string, string>> = {
  'v3.12': '2022-05-01',
  'v3.13': '2022-11-01',
  'v3.14': '2023-05-01',
  'v3.15': '2023-11-01',
  'v3.16': '2024-05-23',
  'v3.17': '2024-11-22',
  'v3.18': '2025-05-09',
  'v3.19': '2025-11-01',
  'v3.20': '2026-04-01',
  'v3.21': '2026-11-01',
  'v3.22': '2027-05-01',
  'v3.23': '2027-11-01',
};

/** /etc/alpine-release: one line, 3.19.1 or an edge snapshot such as 3.21_alpha20240807. */
const ReleaseText = z.string().check(z.maxLength(4096));
const VERSION_RE = /^(\d{1,3})\.(\d{1,3})(?:\.\d{1,4})?(?:_[a-z]{1,8}\d{0,14})?$/;
/** a repository line's branch: …/alpine/v3.19/main, …/edge/community, with or without a trailing slash */
const REPO_RE = /\/(v\d{1,3}\.\d{1,3}|edge)\/[a-z]{1,16}\/?$/;

/** The version in /etc/alpine-release, or null when the file holds something else. */
export function parseAlpineVersion(text: string | undefined): string | null {
  if (text === undefined || !ReleaseText.safeParse(text).success) return null;
  const line = text.split('\n')[0]!.trim();
  return VERSION_RE.test(line) ? line : null;
}

/** The branch apk follows: the first enabled repository line that names one (comments and tags skipped). */
export function parseRepositoriesBranch(text: string | undefined): string | null {
  if (text === undefined || text.length > 65_536) return null;
  for (const raw of text.split('\n').slice(0, 256)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    // `@tag http://…` pins a tagged repository: the untagged ones say what the system follows
    if (line.startsWith('@')) continue;
    const m = REPO_RE.exec(line.split(/\s+/).at(-1)!);
    if (m) return m[1]!;
  }
  return null;
}

/**
 * What towerd says of a host's release on `today` (YYYY-MM-DD, UTC): the repositories' branch wins (it is what
 * apk upgrade follows), else the version's major.minor; an edge snapshot version means edge.
 */
export function alpineRelease(files: { release: string | undefined; repositories: string | undefined }, today: string, checkedAt: string): AlpineRelease {
  const version = parseAlpineVersion(files.release);
  let branch = parseRepositoriesBranch(files.repositories);
  if (!branch && version) {
    const m = VERSION_RE.exec(version)!;
    branch = version.includes('_') ? 'edge' : `v${m[1]}.${m[2]}`;
  }
  if (branch === 'edge') return { version, branch, eol: null, status: 'edge', checkedAt };
  const eol = branch ? (ALPINE_EOL[branch] ?? null) : null;
  if (!eol) return { version, branch, eol: null, status: 'unknown', checkedAt };
  // support ends on that day: it is past from the next one on
  return { version, branch, eol, status: today > eol ? 'eol' : 'supported', checkedAt };
}

/** "v3.19: past its end of support since 2025-11-01", for logs, tables and the bar. */
export function releaseText(r: AlpineRelease): string {
  const b = r.branch ?? 'unknown branch';
  switch (r.status) {
    case 'eol':
      return `${b}: past its end of support since ${r.eol}`;
    case 'supported':
      return `${b}: supported until ${r.eol}`;
    case 'edge':
      return 'edge: no end of support';
    case 'unknown':
      return `${b}: end of support unknown`;
  }
}
