import { watch, type FSWatcher } from 'chokidar';
import { dirname, relative, sep } from 'node:path';
import type { Paths } from '../../shared/paths.js';

/**
 * Calls `onChange` once after a burst of edits to the registry files or the settings file. Events are only a
 * hint (editors save by rename, bursts coalesce): the callback re-reads everything and compares.
 */
export function watchConfig(
  paths: Paths,
  onChange: () => void,
  onKnownHosts: () => void = () => undefined,
  debounceMs = 150,
): { close(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let khTimer: NodeJS.Timeout | undefined;
  const fire = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };
  const wanted = (p: string): boolean => {
    if (p === paths.registry || p === paths.settings) return true;
    const rel = relative(paths.hostsDir, p);
    if (rel.startsWith('..')) return false;
    const parts = rel.split(sep);
    return parts.length === 2 && parts[1] === 'tower.env';
  };
  const dirs = [paths.towerDir, dirname(paths.settings), paths.sshDir];
  const watcher: FSWatcher = watch(dirs, {
    ignoreInitial: true,
    depth: 2,
    // directories must pass so that hosts/NAME/ is descended into; files only when they are ours
    ignored: (p, st) => {
      // in ~/.ssh only known_hosts matters (pinned host keys)
      if (p.startsWith(paths.sshDir + sep)) return p !== paths.knownHosts;
      return st?.isFile() === true && !wanted(p);
    },
  });
  watcher.on('all', (_event, p) => {
    if (p === paths.knownHosts) {
      clearTimeout(khTimer);
      khTimer = setTimeout(onKnownHosts, debounceMs);
      return;
    }
    // a host folder appearing or vanishing changes what tower.env files exist
    const hostFolder = !relative(paths.hostsDir, p).startsWith('..') && relative(paths.hostsDir, p).split(sep).length === 1;
    if (wanted(p) || hostFolder) fire();
  });
  return {
    async close() {
      clearTimeout(timer);
      clearTimeout(khTimer);
      await watcher.close();
    },
  };
}
