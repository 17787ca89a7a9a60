// What towerctl and the bar make of automatic updates: the bar's ↑N marker, the status column, the result table
// and exit codes of `towerctl updates --run/--check`.
import { describe, expect, it } from 'vitest';
import { i3barBlocks } from '../../client/bar/i3bar.js';
import { applyEvent, fromSnapshot, type BarHost, type UpView } from '../../client/bar/model.js';
import { updatesMark } from '../../client/bar/present.js';
import { waybarOutput } from '../../client/bar/waybar.js';
import { updatesText } from '../../client/commands/status.js';
import { renderList, renderResults, resultsExitCode } from '../../client/commands/updates.js';
import { Event, type HostInfo, type HostUpdates, type UpdateResult, type UpdateSummary } from '../../protocol/index.js';

const summary = (s: Partial<UpdateSummary>): UpdateSummary => ({ pending: 0, last: 'ok', lastAt: '2026-11-23T03:10:00.000Z', reason: null, running: false, ...s });
const host = (name: string, updates?: UpdateSummary): BarHost => ({
  name,
  role: 'offline',
  color: { code: 31, name: 'Red', hex: '#cd0000' },
  state: 'online',
  rttMs: 0.5,
  lastError: null,
  ...(updates ? { updates } : {}),
});
const OK = { ok: true, error: null };

describe('the bar', () => {
  it('marks pending upgrades, running updates and a failed last run', () => {
    expect(updatesMark(host('a'))).toBeNull();
    expect(updatesMark(host('a', summary({})))).toBeNull();
    expect(updatesMark(host('a', summary({ pending: 3 })))).toEqual({ text: '↑3', tone: 'idle' });
    expect(updatesMark(host('a', summary({ pending: 3, running: true })))).toEqual({ text: '↑…', tone: 'busy' });
    expect(updatesMark(host('a', summary({ pending: 2, last: 'failed', reason: 'apk exited with 1' })))).toEqual({ text: '↑2!', tone: 'busy' });
    expect(updatesMark(host('a', summary({ pending: null, last: 'failed' })))).toEqual({ text: '↑!', tone: 'busy' });
  });

  it('shows the marker after the host in i3bar and in the waybar tooltip, escaped', () => {
    const view = fromSnapshot({ hosts: [host('office', summary({ pending: 3 })), host('vault', summary({ last: 'failed', reason: '<b>no</b>' }))], registry: OK });
    const blocks = i3barBlocks(view);
    expect(blocks[1]!.full_text).toMatch(/office .*0\.5ms.* <span foreground="#999999">↑3<\/span>$/);
    expect(blocks[2]!.full_text).toMatch(/<span foreground="#e5c07b">↑!<\/span>$/);
    const tip = waybarOutput(view).tooltip;
    expect(tip).toContain('↑3');
    expect(tip).toContain('(updates failed: &lt;b&gt;no&lt;/b&gt;)');
    expect(tip).not.toContain('<b>');
  });

  it('applies host.updates events like host.state', () => {
    const v = fromSnapshot({ hosts: [host('office')], registry: OK });
    const info = { ...host('office', summary({ pending: 1 })), ip: '192.168.3.200', network: '192.168.3.0/24', user: 'u', identityFile: '/k', lastContact: null, version: null } as HostInfo;
    const e = { type: 'host.updates', topic: 'hosts', host: info, updates: {} as HostUpdates } as Event;
    const next = applyEvent(v, e) as UpView;
    expect(next.hosts[0]!.updates).toEqual(summary({ pending: 1 }));
  });
});

describe('towerctl', () => {
  it('status has an UPDATES column', () => {
    expect(updatesText(undefined)).toBe('-');
    expect(updatesText(summary({ pending: null, last: null }))).toBe('?');
    expect(updatesText(summary({ pending: 0 }))).toBe('current');
    expect(updatesText(summary({ pending: 4, last: 'skipped' }))).toBe('↑4, skipped');
    expect(updatesText(summary({ pending: 4, last: 'failed' }))).toBe('↑4, failed');
    expect(updatesText(summary({ running: true }))).toBe('running');
  });

  const r = (over: Partial<UpdateResult>): UpdateResult => ({ name: 'a', result: 'ok', reason: null, pending: 0, upgraded: [], unreachable: false, ...over });
  it('exit codes: 0 all done, 1 skipped for apps, 4 failed or unreachable', () => {
    expect(resultsExitCode([r({}), r({})])).toBe(0);
    expect(resultsExitCode([r({}), r({ result: 'skipped', reason: '1 app running on a' })])).toBe(1);
    expect(resultsExitCode([r({ result: 'skipped', reason: 'a is not connected', unreachable: true }), r({ result: 'skipped' })])).toBe(4);
    expect(resultsExitCode([r({ result: 'failed', reason: 'apk exited with 1' })])).toBe(4);
  });

  it('prints results and the list as tables', () => {
    const out = renderResults([r({ upgraded: [{ name: 'hello', from: '1.0-r0', to: '1.1-r0' }] }), r({ name: 'b', result: 'skipped', reason: '1 app running on b', pending: 2 })]);
    expect(out).toMatch(/^HOST\s+RESULT\s+UPGRADED\s+PENDING\s+REASON\n/);
    expect(out).toMatch(/\na\s+ok\s+hello 1\.0-r0 → 1\.1-r0\s+0\s*\n/);
    expect(out).toMatch(/\nb\s+skipped\s+-\s+2\s+1 app running on b\n/);
    const list = renderList({
      enabled: true,
      maxConcurrent: 2,
      hosts: [
        {
          name: 'a',
          enabled: true,
          window: '03:00-05:00',
          intervalHours: 24,
          last: null,
          lastOkAt: null,
          checkedAt: null,
          pending: 1,
          pendingPackages: [{ name: 'hello', from: '1.0-r0', to: '1.1-r0' }],
          failures: 0,
          nextDue: new Date(Date.now() - 5).toISOString(),
          running: null,
          waiting: 'a is not connected',
        },
      ],
    });
    expect(list).toMatch(/\na\s+on\s+03:00-05:00\s+24h\s+\?\s+1\s+now\s+a is not connected\s+never\n/);
    expect(list).toContain('a: hello 1.0-r0 → 1.1-r0');
    expect(list).toContain('automatic updates on; at most 2 hosts at a time');
  });
});
