// towerd's part of the state export: whether an export holds the registry as it is now, in `status` and as events.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Core } from '../../daemon/core/feature.js';
import { DEFAULT_SETTINGS, type Settings } from '../../daemon/core/settings.js';
import { exportFeature } from '../../daemon/features/export/index.js';
import { encodeArchive, checkArchive, stateDigest } from '../../daemon/shared/export/archive.js';
import { collectState, writeExportRecord } from '../../daemon/shared/export/disk.js';
import { resolvePaths } from '../../daemon/shared/paths.js';
import type { Event, ExportState } from '../../protocol/index.js';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'tower-export-feature-'));
  const paths = resolvePaths({ HOME: dir });
  const published: Event[] = [];
  let settings: Settings = DEFAULT_SETTINGS;
  const core = {
    paths,
    settings: () => settings,
    hub: { publish: (e: Event) => published.push(e) },
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
  } as unknown as Core;
  const f = exportFeature(core);
  const ask = () => (f.methods['export.state'] as (p: object) => Promise<ExportState>)({});
  const setSettings = (s: Settings) => (settings = s);
  return { dir, paths, f, ask, published, setSettings };
}

describe('the export feature', () => {
  it('reports none, then current after an export, then stale after a key changes; an event for each change only', async () => {
    const t = setup();
    mkdirSync(join(t.paths.hostsDir, 'web'), { recursive: true });
    writeFileSync(t.paths.registry, 'Host web\n  HostName 192.168.2.200\n');
    writeFileSync(join(t.paths.hostsDir, 'web', 'id_ed25519'), 'k1\n');
    expect(t.f.statusPart!()).toEqual({}); // nothing looked at yet: nothing claimed
    expect(await t.ask()).toMatchObject({ state: 'none', warn: true, lastExportAt: null });
    expect(t.f.statusPart!().stateExport).toMatchObject({ state: 'none', warn: true });
    await t.ask();
    expect(t.published).toHaveLength(1); // asking again with nothing changed publishes nothing

    const c = await collectState(t.paths);
    await writeExportRecord(t.paths, { version: 1, at: '2026-12-04T04:00:00.000Z', file: '/media/usb/t.age', digest: stateDigest(c), registryChangedAt: null });
    expect(await t.ask()).toMatchObject({ state: 'current', warn: false, lastExportAt: '2026-12-04T04:00:00.000Z', file: '/media/usb/t.age' });
    writeFileSync(join(t.paths.hostsDir, 'web', 'id_ed25519'), 'k2\n');
    expect(await t.ask()).toMatchObject({ state: 'stale', warn: true });
    expect(t.published.map((e) => (e.type === 'export.state' ? `${e.topic}:${e.export.state}` : e.type))).toEqual(['export:none', 'export:current', 'export:stale']);

    // warn off: still reported, not flagged, and the change is published
    t.setSettings({ ...DEFAULT_SETTINGS, stateExport: { warn: false } });
    expect(await t.ask()).toMatchObject({ state: 'stale', warn: false });
    expect(t.published).toHaveLength(4);
  });

  it('says no-hosts for a thin client with no registry yet, without a warning', async () => {
    const t = setup();
    expect(await t.ask()).toMatchObject({ state: 'no-hosts', warn: false });
  });

  it('an export whose towerd.json would be refused on import is caught by the same check', async () => {
    const t = setup();
    mkdirSync(t.paths.towerDir, { recursive: true });
    writeFileSync(t.paths.registry, 'Host web\n  HostName 192.168.2.200\n');
    mkdirSync(join(t.dir, '.config', 'tower'), { recursive: true });
    writeFileSync(t.paths.settings, '{not json');
    const c = await collectState(t.paths);
    expect(() => checkArchive(encodeArchive({ createdAt: new Date().toISOString(), ...c }))).toThrow(/towerd\.json: not JSON/);
  });
});
