import { describe, expect, it } from 'vitest';
import { diffWorld, entryName, parseWorld } from '../../daemon/features/packages/world.js';
import { packageMethods } from '../../protocol/packages.js';

describe('apk world files', () => {
  it('reads names, @tags and version constraints, one a line; blank lines and repeats are skipped', () => {
    expect(parseWorld('firefox\npy3-pip=23.1-r0\n\nfoo>1\nbar@testing\nbaz@edge>=2.0\nqux~1.2\nfirefox\n', 'w')).toEqual([
      'firefox', 'py3-pip=23.1-r0', 'foo>1', 'bar@testing', 'baz@edge>=2.0', 'qux~1.2',
    ]);
    // apk also separates entries by spaces; CRLF from an editor is fine
    expect(parseWorld('a b\r\nc\n', 'w')).toEqual(['a', 'b', 'c']);
    expect(parseWorld('', 'w')).toEqual([]);
  });

  it.each([
    ['!conflict', 1],
    ['ok\n-rf', 2],
    ['ok\nok2\nFirefox', 3],
    ['ok\n$(reboot)', 2],
    ['a;b', 1],
    ['foo=', 1],
    ['foo==1', 1],
    ['foo@', 1],
    ['foo@tag@tag', 1],
    ['../etc', 1],
  ])('refuses %j by its line number (%i)', (text, line) => {
    expect(() => parseWorld(text, 'saved')).toThrow(new RegExp(`^saved line ${line}: .* is not an apk world entry`));
  });

  it('refuses a file too large or with too many entries', () => {
    expect(() => parseWorld('a\n'.repeat(200_000), 'w')).toThrow(/larger than/);
    expect(() => parseWorld(Array.from({ length: 5001 }, (_, i) => `p${i}`).join('\n'), 'w')).toThrow(/more than 5000 entries/);
  });

  it('diff: missing (also a changed constraint), present, and extra by name', () => {
    expect(entryName('baz@edge>=2.0')).toBe('baz');
    expect(diffWorld(['a', 'b=1', 'c', 'd@t'], ['a', 'b', 'x', 'd@t', 'y>2'])).toEqual({
      wanted: ['a', 'b=1', 'c', 'd@t'],
      missing: ['b=1', 'c'],
      present: ['a', 'd@t'],
      extra: ['x', 'y>2'],
    });
  });

  it('packages.run takes constraints for add only', () => {
    const p = packageMethods['packages.run'].params;
    expect(p.safeParse({ host: 'h', action: 'add', packages: ['foo>=1', 'bar@edge'] }).success).toBe(true);
    expect(p.safeParse({ host: 'h', action: 'del', packages: ['foo>=1'] }).success).toBe(false);
    expect(p.safeParse({ host: 'h', action: 'add', packages: ['-foo'] }).success).toBe(false);
  });
});
