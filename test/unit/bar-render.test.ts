import { describe, expect, it } from 'vitest';
import { HOST_BLOCK, i3barBlocks, renderI3bar } from '../../client/bar/i3bar.js';
import { chip, escapeMarkup, readableOn, safeHex } from '../../client/bar/markup.js';
import { DOWN, fromSnapshot, type BarHost } from '../../client/bar/model.js';
import { rttText, summarize } from '../../client/bar/present.js';
import { renderWaybar, waybarOutput } from '../../client/bar/waybar.js';
import type { HostState } from '../../protocol/index.js';

function host(name: string, state: HostState, extra: Partial<BarHost> = {}): BarHost {
  return { name, role: 'offline', color: { code: 31, name: 'Red', hex: '#cd0000' }, state, rttMs: null, lastError: null, ...extra };
}

const OK: { ok: boolean; error: string | null } = { ok: true, error: null };

describe('pango markup', () => {
  it('escapes the five XML specials and replaces control characters GMarkup refuses', () => {
    expect(escapeMarkup(`<b>"a" & 'b'</b>`)).toBe('&lt;b&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/b&gt;');
    expect(escapeMarkup('a\x00b\x1bc\nd\te')).toBe('a\ufffdb\ufffdc\nd\te');
  });

  it('only lets #rrggbb colours into attributes', () => {
    expect(safeHex('#CD0000', '#fff')).toBe('#cd0000');
    expect(safeHex('red" font="99', '#ffffff')).toBe('#ffffff');
    expect(chip('a<b', '"><x')).toBe('<span background="#ffffff" foreground="#000000"> a&lt;b </span>');
  });

  it('picks black or white text for the better contrast', () => {
    expect(readableOn('#ffffff')).toBe('#000000');
    expect(readableOn('#ffff00')).toBe('#000000');
    expect(readableOn('#0000ee')).toBe('#ffffff');
    expect(readableOn('#cd0000')).toBe('#ffffff');
  });
});

describe('i3bar rendering', () => {
  const hosts = [
    host('router', 'online', { role: 'router', rttMs: 0.4321, color: { code: 32, name: 'Green', hex: '#00cd00' } }),
    host('mail', 'offline', { lastError: 'connect ECONNREFUSED' }),
    host('work', 'hostkey-mismatch', { color: { code: 34, name: 'Blue', hex: '#0000ee' } }),
    host('lab', 'unsupervised'),
  ];
  const blocks = i3barBlocks(fromSnapshot({ hosts, registry: OK }));

  it('a summary block, then one block per host in registry order, named for clicks', () => {
    expect(blocks.map((b) => [b.name, b.instance])).toEqual([
      ['tower-summary', undefined],
      [HOST_BLOCK, 'router'],
      [HOST_BLOCK, 'mail'],
      [HOST_BLOCK, 'work'],
      [HOST_BLOCK, 'lab'],
    ]);
    expect(blocks[0]).toMatchObject({ full_text: 'tower 1/4 · 2 down', short_text: '1/4', color: '#ff5555' });
    expect(blocks.every((b) => b.markup === 'pango')).toBe(true);
  });

  it('shows the name on the host colour and the round trip when online', () => {
    expect(blocks[1]).toMatchObject({
      full_text: '<span background="#00cd00" foreground="#000000"> router </span> <span foreground="#55dd55">0.4ms</span>',
      color: '#55dd55',
    });
    expect(blocks[1]!.urgent).toBeUndefined();
  });

  it('marks down states, and makes the ones that need the user urgent', () => {
    expect(blocks[2]!.full_text).toContain('<span foreground="#ff5555">✖ offline</span>');
    expect(blocks[2]!.short_text).toBe('<span background="#cd0000" foreground="#ffffff"> mail </span> <span foreground="#ff5555">✖</span>');
    expect(blocks[3]).toMatchObject({ urgent: true, full_text: '<span background="#0000ee" foreground="#ffffff"> work </span> ⚠ hostkey-mismatch' });
    expect(blocks[3]!.color).toBeUndefined(); // the bar's urgent colours apply
    expect(blocks[4]!.full_text).toContain('○ unsupervised');
  });

  it('summary colours: green when all are online, grey with nothing down, urgent on an invalid registry', () => {
    const all = i3barBlocks(fromSnapshot({ hosts: [host('a', 'online', { rttMs: 250 })], registry: OK }));
    expect(all[0]).toMatchObject({ full_text: 'tower 1/1', color: '#55dd55' });
    expect(all[1]!.full_text).toContain('>250ms<');
    const idle = i3barBlocks(fromSnapshot({ hosts: [host('a', 'unsupervised')], registry: OK }));
    expect(idle[0]).toMatchObject({ full_text: 'tower 0/1', color: '#999999' });
    const bad = i3barBlocks(fromSnapshot({ hosts: [], registry: { ok: false, error: 'line 3: <bad>' } }));
    expect(bad[0]).toMatchObject({ full_text: 'tower 0/0 · ⚠ registry invalid', urgent: true });
  });

  it('towerd down is one block, and a line is compact JSON on one line', () => {
    expect(i3barBlocks(DOWN)).toEqual([{ name: 'tower-daemon', full_text: 'towerd down', short_text: 'towerd ✖', color: '#ff5555', markup: 'pango' }]);
    const line = renderI3bar(fromSnapshot({ hosts, registry: OK }));
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toHaveLength(5);
  });

  it('a hostile name or colour cannot inject markup', () => {
    const evil = host('x', 'offline', { name: '<i>x</i>', color: { code: 1, name: 'x', hex: '#12345g' } });
    const [, b] = i3barBlocks(fromSnapshot({ hosts: [evil], registry: OK }));
    expect(b!.full_text).toBe('<span background="#ffffff" foreground="#000000"> &lt;i&gt;x&lt;/i&gt; </span> <span foreground="#ff5555">✖ offline</span>');
  });
});

describe('waybar rendering', () => {
  it('a summary text, one tooltip line per host in its colour, and state classes', () => {
    const out = waybarOutput(
      fromSnapshot({
        hosts: [host('router', 'online', { rttMs: 0.4 }), host('mail', 'auth-failed', { lastError: 'key <refused> & gone' })],
        registry: OK,
      }),
    );
    expect(out).toEqual({
      text: '⬤ 1/2 · 1 down',
      tooltip: [
        'towerd: 1 of 2 online, 1 down',
        '<span background="#cd0000" foreground="#ffffff"> router </span> <span foreground="#55dd55">0.4ms</span>',
        '<span background="#cd0000" foreground="#ffffff"> mail </span> <span foreground="#ff5555">⚠ auth-failed</span> (key &lt;refused&gt; &amp; gone)',
      ].join('\n'),
      class: ['some-down', 'alert'],
      percentage: 50,
      alt: 'some-down',
    });
  });

  it('classes for all online, unsupervised, no hosts, an invalid registry and towerd down', () => {
    const view = (hosts: BarHost[], registry = OK) => waybarOutput(fromSnapshot({ hosts, registry }));
    expect(view([host('a', 'online')])).toMatchObject({ class: ['all-online'], percentage: 100, text: '⬤ 1/1' });
    expect(view([host('a', 'unsupervised')])).toMatchObject({ class: ['unsupervised'], percentage: 0 });
    expect(view([])).toMatchObject({ class: ['no-hosts'], text: '⬤ 0/0', tooltip: 'towerd: no hosts' });
    const bad = view([host('a', 'online')], { ok: false, error: 'Host <x>' });
    expect(bad.class).toEqual(['all-online', 'registry-invalid']);
    expect(bad.text).toBe('⬤ 1/1 ⚠');
    expect(bad.tooltip).toContain('not applied: Host &lt;x&gt;');
    expect(waybarOutput(DOWN)).toMatchObject({ text: '⬤ towerd down', class: ['daemon-down'], alt: 'daemon-down' });
    expect(renderWaybar(DOWN)).not.toContain('\n');
  });

  it('long host errors are cut in the tooltip', () => {
    const out = waybarOutput(fromSnapshot({ hosts: [host('a', 'offline', { lastError: 'x'.repeat(500) })], registry: OK }));
    expect(out.tooltip.length).toBeLessThan(300);
    expect(out.tooltip).toContain('x…)');
  });
});

describe('presentation helpers', () => {
  it('round trips', () => {
    expect(rttText(null)).toBe('');
    expect(rttText(0.04)).toBe('0.0ms');
    expect(rttText(12.345)).toBe('12.3ms');
    expect(rttText(1234.5)).toBe('1235ms');
    expect(rttText(-1)).toBe('');
  });

  it('down counts every state but online and unsupervised, as towerctl status does', () => {
    const states: HostState[] = ['online', 'connecting', 'provisioning', 'offline', 'auth-failed', 'hostkey-mismatch', 'unsupervised'];
    expect(summarize(states.map((s, i) => host(`h${i}`, s)))).toEqual({ total: 7, online: 1, down: 5, alert: true, klass: 'some-down' });
  });
});
