import { describe, expect, it } from 'vitest';
import { i3barBlocks } from '../../client/bar/i3bar.js';
import { fromSnapshot, type BarHost } from '../../client/bar/model.js';
import { TONE_HEX, eolMark } from '../../client/bar/present.js';
import { waybarOutput } from '../../client/bar/waybar.js';
import { branchText, renderList } from '../../client/commands/updates.js';
import { ALPINE_EOL, alpineRelease, parseAlpineVersion, parseRepositoriesBranch } from '../../daemon/features/updates/eol.js';
import { apkRootOf } from '../../daemon/features/updates/release.js';
import { AlpineRelease, type HostUpdates, type UpdateSummary } from '../../protocol/index.js';

const TODAY = '2026-12-04';
const AT = '2026-12-04T03:00:00.000Z';
const REPOS = (b: string) => `http://dl-cdn.alpinelinux.org/alpine/${b}/main\nhttp://dl-cdn.alpinelinux.org/alpine/${b}/community\n`;
const rel = (release: string | undefined, repositories: string | undefined, today = TODAY) => alpineRelease({ release, repositories }, today, AT);

describe('Alpine end of support', () => {
  it('says a branch past its date is eol, with the date, and a newer one supported until its date', () => {
    expect(rel('3.19.1\n', REPOS('v3.19'))).toEqual({ version: '3.19.1', branch: 'v3.19', eol: '2025-11-01', status: 'eol', checkedAt: AT });
    expect(rel('3.21.3\n', REPOS('v3.21'))).toMatchObject({ branch: 'v3.21', eol: '2026-11-01', status: 'eol' });
    expect(rel('3.22.0\n', REPOS('v3.22'))).toMatchObject({ branch: 'v3.22', eol: '2027-05-01', status: 'supported' });
    expect(rel('3.23.3\n', REPOS('v3.23'))).toMatchObject({ eol: '2027-11-01', status: 'supported' });
  });
  it('counts the last day of support as supported', () => {
    expect(rel('3.21.0', REPOS('v3.21'), '2026-11-01').status).toBe('supported');
    expect(rel('3.21.0', REPOS('v3.21'), '2026-11-02').status).toBe('eol');
  });
  it('follows the branch of the repositories (what apk upgrade follows), else the version', () => {
    expect(rel('3.19.1', REPOS('v3.22'))).toMatchObject({ version: '3.19.1', branch: 'v3.22', status: 'supported' });
    expect(rel('3.18.4', undefined)).toMatchObject({ branch: 'v3.18', eol: '2025-05-09', status: 'eol' });
    expect(rel('3.18.4', '# nothing here\n')).toMatchObject({ branch: 'v3.18' });
  });
  it('edge has no end; a branch without a date or no readable facts is unknown', () => {
    expect(rel('3.21_alpha20240807', REPOS('edge'))).toMatchObject({ branch: 'edge', eol: null, status: 'edge' });
    expect(rel('3.21_alpha20240807', undefined)).toMatchObject({ branch: 'edge', status: 'edge' });
    expect(rel('3.9.6', REPOS('v3.9'))).toMatchObject({ branch: 'v3.9', eol: null, status: 'unknown' });
    expect(rel('3.99.0', REPOS('v3.99'))).toMatchObject({ branch: 'v3.99', status: 'unknown' });
    expect(rel(undefined, undefined)).toEqual({ version: null, branch: null, eol: null, status: 'unknown', checkedAt: AT });
  });
  it('reads host files defensively', () => {
    expect(parseAlpineVersion('3.19.1\n')).toBe('3.19.1');
    expect(parseAlpineVersion('<script>\n')).toBeNull();
    expect(parseAlpineVersion('3.19.1'.padEnd(5000, 'x'))).toBeNull();
    expect(parseRepositoriesBranch('#http://x/alpine/v3.18/main\n@testing http://x/alpine/edge/testing\nhttps://mirror/alpine/v3.20/main/\n')).toBe('v3.20');
    expect(parseRepositoriesBranch('/media/usb/apks\n')).toBeNull();
    expect(parseRepositoriesBranch('x'.repeat(70_000))).toBeNull();
    // what towerd says fits the protocol's bounds
    expect(AlpineRelease.safeParse(rel('3.19.1', REPOS('v3.19'))).success).toBe(true);
  });
  it('has dates for the branches TowerOS used and later, in order', () => {
    const branches = Object.keys(ALPINE_EOL);
    expect(branches).toContain('v3.19');
    const dates = Object.values(ALPINE_EOL);
    expect([...dates].sort()).toEqual(dates);
  });
  it('finds the apk root from packages.worldFile', () => {
    expect(apkRootOf('/etc/apk/world')).toBe('');
    expect(apkRootOf('/run/alpine/etc/apk/world')).toBe('/run/alpine');
    expect(apkRootOf('/somewhere/else')).toBe('');
  });
});

const eolRelease = rel('3.19.1', REPOS('v3.19'));
const okRelease = rel('3.22.0', REPOS('v3.22'));
const summary = (release?: AlpineRelease): UpdateSummary => ({ pending: 0, last: 'ok', lastAt: AT, reason: null, running: false, ...(release ? { release } : {}) });
const host = (name: string, release?: AlpineRelease): BarHost => ({
  name,
  role: 'offline',
  color: { code: 31, name: 'Red', hex: '#cd0000' },
  state: 'online',
  rttMs: 1,
  lastError: null,
  updates: summary(release),
});

describe('the bar and towerctl updates say so', () => {
  it('marks only a host past its end of support, in the warning colour', () => {
    expect(eolMark(host('a', eolRelease))).toEqual({ mark: 'EOL v3.19', text: 'Alpine v3.19 past its end of support since 2025-11-01', tone: 'busy' });
    expect(eolMark(host('b', okRelease))).toBeNull();
    expect(eolMark(host('c'))).toBeNull();
    const view = fromSnapshot({ hosts: [host('old', eolRelease), host('new', okRelease)], registry: { ok: true, error: null } });
    const w = waybarOutput(view);
    expect(w.class).toContain('eol');
    expect(w.tooltip).toContain(`<span foreground="${TONE_HEX.busy}">EOL v3.19</span> (Alpine v3.19 past its end of support since 2025-11-01)`);
    expect(w.tooltip.split('\n').find((l) => l.includes('new'))).not.toContain('EOL');
    const blocks = i3barBlocks(view);
    expect(blocks.find((b) => b.instance === 'old')!.full_text).toContain(`<span foreground="${TONE_HEX.busy}">EOL v3.19</span>`);
    expect(blocks.find((b) => b.instance === 'new')!.full_text).not.toContain('EOL');
    expect(waybarOutput(fromSnapshot({ hosts: [host('new', okRelease)], registry: { ok: true, error: null } })).class).not.toContain('eol');
  });
  it('has a BRANCH column and a warning with the date', () => {
    expect(branchText(eolRelease)).toBe('v3.19 EOL 2025-11-01');
    expect(branchText(okRelease)).toBe('v3.22 to 2027-05-01');
    expect(branchText(rel('3.21_alpha1', REPOS('edge')))).toBe('edge');
    expect(branchText(rel('3.9.1', REPOS('v3.9')))).toBe('v3.9 unknown');
    expect(branchText(undefined)).toBe('?');
    const u = (name: string, release?: AlpineRelease): HostUpdates => ({
      name, enabled: true, window: null, intervalHours: 24, last: null, lastOkAt: null, checkedAt: null, pending: 0, pendingPackages: [],
      failures: 0, nextDue: null, running: null, waiting: null, ...(release ? { release } : {}),
    });
    const out = renderList({ enabled: true, maxConcurrent: 2, hosts: [u('old', eolRelease), u('new', okRelease)] });
    expect(out).toMatch(/^HOST\s+AUTO\s+WINDOW\s+EVERY\s+BRANCH\s+PENDING/);
    expect(out).toMatch(/^old\s+on\s+any time\s+24h\s+v3\.19 EOL 2025-11-01\s+0/m);
    expect(out).toContain('old: Alpine v3.19 (3.19.1) is past its end of support since 2025-11-01');
    expect(out).not.toContain('new: Alpine');
  });
});
