import type { ExportState } from '../../../protocol/index.js';
import type { Core, Feature } from '../../core/feature.js';
import { exportStatus } from '../../shared/export/disk.js';

/** How often the state is looked at again without a cause (a key replaced by hand, a known_hosts edit). */
export const RECHECK_MS = 60_000;

/**
 * The thin client's own state export (`towerctl backup export` / `import`, which towerctl does itself: an import
 * must work before towerd has a registry, and the passphrase never leaves towerctl). towerd only says whether an
 * export is newer than the registry's last change: `stateExport` in `status` and `export.state` events, for the
 * bar's warning. Looked at when the registry or settings change, when towerctl asks after an export or import, and
 * once a minute.
 */
export function exportFeature(core: Core): Feature {
  let current: ExportState | undefined;
  let timer: NodeJS.Timeout | undefined;
  let pending: Promise<ExportState> | undefined;

  const same = (a: ExportState | undefined, b: ExportState) =>
    a !== undefined && a.state === b.state && a.warn === b.warn && a.lastExportAt === b.lastExportAt && a.file === b.file && a.registryChangedAt === b.registryChangedAt;

  const look = async (): Promise<ExportState> => {
    const s = await exportStatus(core.paths);
    const next: ExportState = { ...s, warn: core.settings().stateExport.warn && (s.state === 'stale' || s.state === 'none'), checkedAt: new Date().toISOString() };
    const changed = !same(current, next);
    current = next;
    if (changed) {
      core.log.info({ state: next.state, lastExportAt: next.lastExportAt }, 'state export freshness');
      core.hub.publish({ type: 'export.state', topic: 'export', export: next });
    }
    return next;
  };
  /** one look at a time; a caller during a look gets that look's answer */
  const check = (): Promise<ExportState> => {
    pending ??= look().finally(() => (pending = undefined));
    return pending;
  };
  const background = () =>
    void check().catch((err: unknown) => core.log.warn({ err: (err as Error).message }, 'cannot read the thin client state for its export freshness'));

  return {
    name: 'export',
    methods: { 'export.state': () => check() },
    start: () => {
      background();
      timer = setInterval(background, RECHECK_MS);
      timer.unref();
    },
    stop: () => clearInterval(timer),
    hostsChanged: () => background(),
    settingsChanged: () => {
      background();
    },
    statusPart: () => (current ? { stateExport: current } : {}),
  };
}
