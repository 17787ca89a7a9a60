import type { AlpineRelease } from '../../../protocol/host.js';
import type { Core } from '../../core/feature.js';
import { runCaptured } from '../../core/exec/run.js';
import { alpineRelease, releaseText } from './eol.js';

const WORLD = '/etc/apk/world';

/** The root apk works in, from packages.worldFile (ROOT/etc/apk/world): '' for the system's own. */
export function apkRootOf(worldFile: string): string {
  return worldFile.endsWith(WORLD) ? worldFile.slice(0, -WORLD.length) : '';
}

/**
 * Each host's Alpine release, read on every connection (and after each update run or check) from ROOT/etc/alpine-release and ROOT/etc/apk/repositories
 * (at most 4 KiB and 64 KiB), where ROOT is the apk root of packages.worldFile. A branch past its end of support
 * is logged once per connection.
 */
export class Releases {
  private readonly known = new Map<string, AlpineRelease>();

  constructor(
    private readonly core: Core,
    private readonly changed: (name: string) => void,
    private readonly today: () => string = () => new Date().toISOString().slice(0, 10),
  ) {}

  get(name: string): AlpineRelease | undefined {
    return this.known.get(name);
  }

  forget(name: string): void {
    this.known.delete(name);
  }

  async read(name: string): Promise<void> {
    let s;
    try {
      s = this.core.connected(name);
    } catch {
      return;
    }
    const root = apkRootOf(this.core.settings().packages.worldFile);
    const file = async (path: string, max: number) => {
      const r = await runCaptured(s, ['head', '-c', String(max), path], 10_000, max);
      return r.code === 0 ? r.stdout : undefined;
    };
    try {
      const [release, repositories] = await Promise.all([file(`${root}/etc/alpine-release`, 4096), file(`${root}/etc/apk/repositories`, 65_536)]);
      const r = alpineRelease({ release, repositories }, this.today(), new Date().toISOString());
      this.known.set(name, r);
      if (r.status === 'eol') this.core.log.warn({ host: name, branch: r.branch, eol: r.eol }, `Alpine ${releaseText(r)}`);
      this.changed(name);
    } catch (err) {
      this.core.log.warn({ host: name, err: (err as Error).message }, 'cannot read the host’s Alpine release');
    }
  }
}
