import { join } from 'node:path';
import type { Core } from '../../core/feature.js';
import { runCaptured } from '../../core/exec/run.js';
import { hostDir } from '../../shared/paths.js';
import type { HostSession } from '../../core/ssh/session.js';
import { writeFileAtomic } from '../../core/util/fs.js';

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
  // one package name per line; anything else is not a world file and is not stored
  const lines = r.stdout.split('\n').filter(Boolean);
  if (!lines.every((l) => /^[a-z0-9][a-z0-9+._<>=~-]{0,200}$/.test(l))) {
    core.log.warn({ host: s.host.name, file }, 'the world file does not look like one; not saved');
    return;
  }
  await writeFileAtomic(join(hostDir(core.paths, s.host.name), 'world'), lines.map((l) => l + '\n').join(''), 0o600);
  core.log.info({ host: s.host.name, packages: lines.length }, 'world saved');
}
