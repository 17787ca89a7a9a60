import { describe, expect, it } from 'vitest';
import { DOWN, applyEvent, fromSnapshot, type BarView, type UpView } from '../../client/bar/model.js';
import { ChangePrinter } from '../../client/bar/output.js';
import type { Event, HostInfo, HostState } from '../../protocol/index.js';

function info(name: string, state: HostState = 'unsupervised', role: HostInfo['role'] = 'offline'): HostInfo {
  return {
    name,
    role,
    ip: '192.168.3.200',
    network: '192.168.3.0/24',
    user: 'alice',
    identityFile: `/home/alice/.local/tower/hosts/${name}/id_ed25519`,
    color: { code: 31, name: 'Red', hex: '#cd0000' },
    state,
    lastError: null,
    lastContact: null,
    rttMs: null,
    version: null,
  };
}

const OK = { ok: true, loadedAt: null, hostCount: 0, error: null };
const names = (v: BarView) => (v.daemon === 'up' ? v.hosts.map((h) => `${h.name}:${h.state}`) : 'down');

describe('bar model', () => {
  const start = fromSnapshot({ hosts: [info('router', 'online', 'router'), info('work')], registry: OK });

  it('keeps only what the bar shows', () => {
    expect(Object.keys(start.hosts[0]!).sort()).toEqual(['color', 'lastError', 'name', 'role', 'rttMs', 'state']);
  });

  it('adds in registry order (router first, then by name), updates and removes', () => {
    let v: BarView = applyEvent(start, { type: 'host.added', topic: 'hosts', host: info('mail') });
    expect(names(v)).toEqual(['router:online', 'mail:unsupervised', 'work:unsupervised']);
    v = applyEvent(v as UpView, { type: 'host.state', topic: 'hosts', host: info('work', 'offline') });
    expect(names(v)).toEqual(['router:online', 'mail:unsupervised', 'work:offline']);
    v = applyEvent(v as UpView, { type: 'host.removed', topic: 'hosts', name: 'mail' });
    expect(names(v)).toEqual(['router:online', 'work:offline']);
    // the same add twice (snapshot plus a replayed event) still gives one host
    v = applyEvent(v as UpView, { type: 'host.added', topic: 'hosts', host: info('work', 'offline') });
    expect(names(v)).toEqual(['router:online', 'work:offline']);
  });

  it('a registry change replaces the list and its health; towerd stopping means down; logs change nothing', () => {
    const e: Event = { type: 'registry.changed', topic: 'registry', registry: { ...OK, ok: false, error: 'bad' }, hosts: [info('x')] };
    const v = applyEvent(start, e);
    expect(v).toEqual({ daemon: 'up', hosts: [expect.objectContaining({ name: 'x' })], registry: { ok: false, error: 'bad' } });
    expect(applyEvent(start, { type: 'daemon.stopping', topic: 'daemon', reason: 'SIGTERM' })).toBe(DOWN);
    expect(applyEvent(start, { type: 'log', topic: 'log', record: { time: 0, level: 'info', msg: 'x', fields: {} } })).toBe(start);
  });
});

describe('printing only changes', () => {
  function printer(format: 'i3bar' | 'waybar') {
    const out: string[] = [];
    const p = new ChangePrinter(format, (t) => out.push(t));
    return { p, out };
  }
  const one = fromSnapshot({ hosts: [info('work')], registry: OK });

  it('i3bar: header, "[", the first array bare, later ones after a comma, one line each', () => {
    const { p, out } = printer('i3bar');
    p.start();
    expect(out).toEqual(['{"version":1,"click_events":true}\n', '[\n']);
    expect(p.show(one)).toBe(true);
    expect(p.show(DOWN)).toBe(true);
    expect(out[2]).toMatch(/^\[\{"name":"tower-summary".*\]\n$/);
    expect(out[3]).toBe(',[{"name":"tower-daemon","full_text":"towerd down","short_text":"towerd ✖","color":"#ff5555","markup":"pango"}]\n');
    // the whole stream stays parseable as the protocol's endless array, once closed
    expect(JSON.parse(out.slice(1).join('') + ']')).toHaveLength(2);
  });

  it('an equal rendering is not printed again, even from a different event', () => {
    const { p, out } = printer('i3bar');
    p.start();
    p.show(one);
    // what registry.changed after host.added gives: a new object, the same screen
    expect(p.show(fromSnapshot({ hosts: [info('work')], registry: OK }))).toBe(false);
    // fields the bar does not show change nothing either
    const moved: HostInfo = { ...info('work'), ip: '192.168.3.201', lastContact: '2026-01-01T00:00:00Z' };
    expect(p.show(fromSnapshot({ hosts: [moved], registry: OK }))).toBe(false);
    expect(out).toHaveLength(3);
    p.show(DOWN);
    p.show(DOWN);
    expect(out).toHaveLength(4);
    p.show(one);
    expect(out).toHaveLength(5);
  });

  it('waybar: no preamble, one object per line', () => {
    const { p, out } = printer('waybar');
    p.start();
    expect(out).toEqual([]);
    p.show(one);
    p.show(one);
    p.show(DOWN);
    expect(out).toHaveLength(2);
    expect(out.every((l) => l.endsWith('}\n') && l.indexOf('\n') === l.length - 1)).toBe(true);
    expect(JSON.parse(out[1]!)).toMatchObject({ class: ['daemon-down'] });
  });
});
