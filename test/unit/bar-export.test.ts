import { describe, expect, it } from 'vitest';
import { exportWarning } from '../../client/bar/export.js';
import { i3barBlocks } from '../../client/bar/i3bar.js';
import { applyEvent, fromSnapshot, type BarExport, type BarHost, type UpView } from '../../client/bar/model.js';
import { waybarOutput } from '../../client/bar/waybar.js';
import { renderStatus } from '../../client/commands/status.js';
import type { ExportState, Status } from '../../protocol/index.js';

const web: BarHost = { name: 'web', role: 'online', color: { code: 32, name: 'Green', hex: '#00cd00' }, state: 'online', rttMs: 0.5, lastError: null };
const OK = { ok: true, error: null };

function state(s: ExportState['state'], lastExportAt: string | null = null): ExportState {
  return { state: s, warn: s === 'stale' || s === 'none', lastExportAt, file: lastExportAt ? '/media/usb/t.age' : null, registryChangedAt: '2026-12-02T08:00:00.000Z', checkedAt: '2026-12-02T09:00:00.000Z' };
}

describe('the bar’s state export warning', () => {
  it('warns when no export is newer than the registry’s last change, and only then', () => {
    expect(exportWarning(state('none'))).toMatchObject({ text: '⛁ no export', tone: 'busy' });
    expect(exportWarning(state('stale', '2026-12-01T10:00:00.000Z'))).toMatchObject({ text: '⛁ export stale', tone: 'busy' });
    expect(exportWarning(state('stale', '2026-12-01T10:00:00.000Z'))!.detail).toContain('2026-12-01 10:00 UTC');
    expect(exportWarning(state('current', '2026-12-02T08:30:00.000Z'))).toBeNull();
    expect(exportWarning(state('no-hosts'))).toBeNull();
    // an older towerd that does not report it: nothing to say
    expect(exportWarning(undefined)).toBeNull();
  });

  it('comes from the status snapshot and follows export.state events; a registry reload keeps it', () => {
    let v = fromSnapshot({ hosts: [web], registry: OK, stateExport: state('none') });
    expect(i3barBlocks(v).map((b) => b.name)).toEqual(['tower-summary', 'tower-host', 'tower-export']);
    v = applyEvent(v, { type: 'export.state', topic: 'export', export: state('current', '2026-12-02T09:00:00.000Z') }) as UpView;
    expect(v.stateExport).toEqual<BarExport>({ state: 'current', warn: false, lastExportAt: '2026-12-02T09:00:00.000Z' });
    expect(i3barBlocks(v).map((b) => b.name)).toEqual(['tower-summary', 'tower-host']);
    v = applyEvent(v, { type: 'export.state', topic: 'export', export: state('stale', '2026-12-02T09:00:00.000Z') }) as UpView;
    v = applyEvent(v, { type: 'registry.changed', topic: 'registry', registry: { ok: true, error: null, loadedAt: null, hostCount: 1 }, hosts: [] as never }) as UpView;
    expect(v.stateExport?.state).toBe('stale');
    const block = i3barBlocks(v).find((b) => b.name === 'tower-export')!;
    expect(block).toMatchObject({ full_text: '⛁ export stale', color: '#e5c07b' });
  });

  it('shows in waybar as a mark, a class and a tooltip line', () => {
    const w = waybarOutput(fromSnapshot({ hosts: [web], registry: OK, stateExport: state('stale', '2026-12-01T10:00:00.000Z') }));
    expect(w.class).toContain('export-stale');
    expect(w.text).toMatch(/⛁$/);
    expect(w.tooltip).toContain('towerctl backup export FILE');
    const fresh = waybarOutput(fromSnapshot({ hosts: [web], registry: OK, stateExport: state('current', '2026-12-02T09:00:00.000Z') }));
    expect(fresh.class).not.toContain('export-stale');
    expect(fresh.text).not.toContain('⛁');
  });

  it('is a footer line of towerctl status', () => {
    const s: Status = {
      daemon: { version: '0.1.0', pid: 1, uptimeMs: 1000 },
      registry: { ok: true, error: null, loadedAt: null, hostCount: 0 },
      hosts: [],
      summary: { total: 0, online: 0, down: 0 },
      stateExport: state('none'),
    };
    expect(renderStatus(s)).toMatch(/thin client state: never exported; run towerctl backup export FILE/);
    expect(renderStatus({ ...s, stateExport: state('current', new Date().toISOString()) })).toMatch(/thin client state: exported .* ago/);
    expect(renderStatus({ ...s, stateExport: undefined })).not.toMatch(/thin client state/);
  });
});
