// When towerd audits by itself: settleMs after a host connects, at most once per intervalMs, again after an audit
// that could not tell (and for those when the router connects), never for a host that went away meanwhile.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AuditCheck, HostAudit } from '../../protocol/index.js';
import type { Core } from '../../daemon/core/feature.js';
import type { Host } from '../../daemon/core/registry/registry.js';
import { DEFAULT_SETTINGS } from '../../daemon/core/settings.js';
import { Auditor } from '../../daemon/features/audit/auditor.js';

const color = { code: 31, name: 'Red', hex: '#cd0000' };
const reg = (name: string, role: Host['role'], ip: string): Host => ({ name, role, ip, network: '', user: 'u', identityFile: '', color, version: null });
const HOSTS = [reg('router', 'router', '192.168.2.1'), reg('on1', 'online', '192.168.2.200'), reg('off1', 'offline', '192.168.3.200')];
const ok: AuditCheck = { check: 'c', target: null, expect: 'x', seen: 'x', status: 'ok' };
const unknown: AuditCheck = { ...ok, status: 'unknown' };

function setup() {
  const connected = new Set<string>();
  const audited: string[] = [];
  const results = new Map<string, AuditCheck[]>();
  const settings = { ...DEFAULT_SETTINGS, audit: { ...DEFAULT_SETTINGS.audit, settleMs: 1000, intervalMs: 3_600_000 } };
  const core = {
    settings: () => settings,
    registry: { get: (n: string) => HOSTS.find((h) => h.name === n), list: () => HOSTS },
    supervisor: { get: (n: string) => ({ connection: connected.has(n) ? {} : undefined }) },
    connected: (n: string) => {
      if (!connected.has(n)) throw new Error(`${n} is not connected`);
      return {};
    },
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
  } as unknown as Core;
  const published: HostAudit[] = [];
  const auditor = new Auditor(core, (a) => published.push(a), (host) => {
    audited.push(host.name);
    return Promise.resolve(results.get(host.name) ?? [ok]);
  });
  const connect = (n: string) => {
    connected.add(n);
    auditor.connectionChanged(n, true);
  };
  const drop = (n: string) => {
    connected.delete(n);
    auditor.connectionChanged(n, false);
  };
  return { auditor, audited, published, results, connect, drop, settings };
}

describe('automatic audits', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('audit settleMs after connecting, then not again within the interval, then again after it', async () => {
    const t = setup();
    t.connect('on1');
    await vi.advanceTimersByTimeAsync(999);
    expect(t.audited).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.audited).toEqual(['on1']);
    expect(t.published.map((a) => [a.name, a.posture, a.trigger])).toEqual([['on1', 'ok', 'connect']]);
    t.drop('on1');
    t.connect('on1');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.audited).toEqual(['on1']);
    await vi.advanceTimersByTimeAsync(3_600_000);
    t.drop('on1');
    t.connect('on1');
    await vi.advanceTimersByTimeAsync(1000);
    expect(t.audited).toEqual(['on1', 'on1']);
  });

  it('a host that goes away before settleMs is not audited', async () => {
    const t = setup();
    t.connect('on1');
    await vi.advanceTimersByTimeAsync(500);
    t.drop('on1');
    await vi.advanceTimersByTimeAsync(5000);
    expect(t.audited).toEqual([]);
  });

  it('an unknown result is retried on the next connect, and when the router connects', async () => {
    const t = setup();
    t.results.set('off1', [unknown]);
    t.connect('off1');
    await vi.advanceTimersByTimeAsync(1000);
    expect(t.auditor.lastOf('off1')?.posture).toBe('unknown');
    t.results.set('off1', [ok]);
    t.connect('router');
    await vi.advanceTimersByTimeAsync(1000);
    expect(t.audited.sort()).toEqual(['off1', 'off1', 'router']);
    expect(t.auditor.lastOf('off1')?.posture).toBe('ok');
  });

  it('audit.auto false: only on demand, which ignores the interval', async () => {
    const t = setup();
    t.settings.audit = { ...t.settings.audit, auto: false };
    t.connect('on1');
    await vi.advanceTimersByTimeAsync(5000);
    expect(t.audited).toEqual([]);
    const [a, b] = [await t.auditor.run(['on1']), await t.auditor.run(['on1', 'off1'])];
    expect(a.map((x) => x.posture)).toEqual(['ok']);
    expect(b.map((x) => [x.name, x.posture, x.error])).toEqual([['on1', 'ok', null], ['off1', 'unknown', 'off1 is not connected']]);
    expect(t.audited).toEqual(['on1', 'on1']);
  });
});
