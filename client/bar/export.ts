import type { BarExport } from './model.js';
import type { Tone } from './present.js';

/**
 * The bar's warning about the thin client's own state: shown when no export is newer than the registry's last
 * change (`none`: never exported; `stale`: a host, key, known_hosts pin or towerd.json changed since), in the
 * warning colour. Nothing while the export is current, before the registry has a host, or from an older towerd
 * that does not report it.
 */
export function exportWarning(e: BarExport | undefined): { text: string; short: string; tone: Tone; detail: string } | null {
  if (!e || !e.warn) return null;
  if (e.state === 'none')
    return { text: '⛁ no export', short: '⛁', tone: 'busy', detail: 'the thin client’s keys and registry were never exported: towerctl backup export FILE' };
  return {
    text: '⛁ export stale',
    short: '⛁',
    tone: 'busy',
    detail: `the registry changed after the last export${e.lastExportAt ? ` (${e.lastExportAt.slice(0, 16).replace('T', ' ')} UTC)` : ''}: towerctl backup export FILE`,
  };
}
