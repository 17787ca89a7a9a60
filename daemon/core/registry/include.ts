import { ensurePrivateDir, readIfExists, writeFileAtomic } from '../util/fs.js';
import type { Paths } from '../../shared/paths.js';

/**
 * Put `Include ~/.local/tower/config` at the top of ~/.ssh/config (creating ~/.ssh 0700 and the file 0600 when
 * missing), once. OpenSSH applies the first value it sees, so the include must come first for plain `ssh NAME`
 * to use Tower's settings. Returns true when the file was changed.
 */
export async function ensureSshInclude(paths: Paths): Promise<boolean> {
  await ensurePrivateDir(paths.sshDir);
  const current = (await readIfExists(paths.sshConfig)) ?? '';
  if (hasInclude(current, paths)) return false;
  const line = `Include ${paths.registry}\n`;
  await writeFileAtomic(paths.sshConfig, current ? `${line}\n${current}` : line, 0o600);
  return true;
}

function hasInclude(text: string, paths: Paths): boolean {
  const forms = new Set([paths.registry, paths.registry.replace(paths.home, '~')]);
  return text.split('\n').some((l) => {
    const m = /^\s*include(?:\s*=\s*|\s+)(.+?)\s*$/i.exec(l);
    return m !== null && m[1]!.split(/\s+/).some((p) => forms.has(p.replace(/^"|"$/g, '')));
  });
}
