import { describe, expect, it } from 'vitest';
import { LineSplitter, parseClickLine } from '../../client/bar/clicks.js';
import { DEFAULT_DETAILS_CMD, TemplateError, detailsArgv, splitWords } from '../../client/bar/details.js';

describe('click events', () => {
  const click = { name: 'tower-host', instance: 'work', button: 1 };
  const json = JSON.stringify({ ...click, x: 1200, y: 8, relative_x: 4, relative_y: 8, width: 60, height: 20, event: 272, modifiers: [] });

  it('reads the first element, later ones after a comma, and "[" glued to the first', () => {
    expect(parseClickLine(json)).toEqual(click);
    expect(parseClickLine(',' + json)).toEqual(click);
    expect(parseClickLine(' , ' + json + ' ')).toEqual(click);
    expect(parseClickLine('[' + json)).toEqual(click);
    expect(parseClickLine('[,' + json + ',')).toEqual(click);
    expect(parseClickLine(JSON.stringify({ name: 'tower-summary', button: 3 }))).toEqual({ name: 'tower-summary', instance: undefined, button: 3 });
  });

  it.each(['[', ',', ']', '', '   ', 'garbage', '{"name":', '{"name":"x"}', '{"name":1,"button":1}', '{"name":"x","button":"1"}', '{"name":"x","button":1.5}', 'null', '[1,2]', '"x"'])(
    'ignores %j',
    (line) => {
      expect(parseClickLine(line)).toBeUndefined();
    },
  );

  it('ignores a non-string instance instead of trusting it', () => {
    expect(parseClickLine('{"name":"tower-host","instance":{"x":1},"button":1}')).toEqual({ name: 'tower-host', instance: undefined, button: 1 });
  });

  it('splits chunks into lines and drops over-long ones without buffering them', () => {
    const s = new LineSplitter(10);
    expect(s.push('[\n{"a"')).toEqual(['[']);
    expect(s.push(':1}\n,x\n')).toEqual(['{"a":1}', ',x']);
    expect(s.push('y'.repeat(8))).toEqual([]);
    expect(s.push('y'.repeat(8))).toEqual([]); // past the limit: dropped from here on
    expect(s.push('yyy\nok\n')).toEqual(['ok']);
    expect(s.push('0123456789\n')).toEqual(['0123456789']);
  });
});

describe('details command', () => {
  it('splits words with quotes and backslashes, expanding nothing', () => {
    expect(splitWords(`foot --hold   towerctl host show {host}`)).toEqual(['foot', '--hold', 'towerctl', 'host', 'show', '{host}']);
    expect(splitWords(`sh -c 'towerctl host show "$1"; read _' sh {host}`)).toEqual(['sh', '-c', 'towerctl host show "$1"; read _', 'sh', '{host}']);
    expect(splitWords(`a "b \\" c" d\\ e '' "" $HOME \`x\``)).toEqual(['a', 'b " c', 'd e', '', '', '$HOME', '`x`']);
    expect(splitWords('   ')).toEqual([]);
  });

  it.each([`a 'b`, 'a "b', 'a\\'])('refuses %j', (line) => {
    expect(() => splitWords(line)).toThrow(TemplateError);
  });

  it('the host is one argv element, inserted at {host} or appended', () => {
    expect(detailsArgv(splitWords(DEFAULT_DETAILS_CMD), 'work')).toEqual(['foot', '--app-id=towerctl-details', '--hold', 'towerctl', 'host', 'show', 'work']);
    expect(detailsArgv(['notify', '--title=tower: {host}', '{host}'], 'mail')).toEqual(['notify', '--title=tower: mail', 'mail']);
    expect(detailsArgv(['/usr/local/bin/show-host'], 'web')).toEqual(['/usr/local/bin/show-host', 'web']);
    // shell metacharacters would stay inside one argument (names are validated before; this is the second fence)
    expect(detailsArgv(['echo', '{host}'], '$(rm -rf ~); x')).toEqual(['echo', '$(rm -rf ~); x']);
  });

  it('the default opens a window whose app id no host colour rule can match', () => {
    expect(DEFAULT_DETAILS_CMD).toContain('--app-id=towerctl-details');
    expect(/^tower-[a-z0-9-]+$/.test('towerctl-details')).toBe(false);
  });
});
