import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shellJoin, shellQuote, shellQuoteCommand } from '../../daemon/core/util/shell.js';

describe('shell quoting for the remote shell', () => {
  const argv = ['printf', '%s\\0', 'two words', "it's", '$HOME', '`id`', 'a;b', 'x\ny', '', '*', '--flag=$(id)', '\\', 'ünï'];

  it('a POSIX shell runs exactly the argv it was given', () => {
    const out = execFileSync('/bin/sh', ['-c', shellJoin(argv)], { encoding: 'utf8' });
    expect(out.split('\0').slice(0, -1)).toEqual(argv.slice(2));
  });

  it('bash agrees', () => {
    const out = execFileSync('/bin/bash', ['-c', shellJoin(argv)], { encoding: 'utf8' });
    expect(out.split('\0').slice(0, -1)).toEqual(argv.slice(2));
  });

  it('leaves safe words bare and refuses NUL', () => {
    expect(shellQuote('apk')).toBe('apk');
    expect(shellQuote('a b')).toBe("'a b'");
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });

  describe('the first word is always the command', () => {
    // programs named like an assignment and like keywords, so that running them is visible
    const bin = mkdtempSync(join(tmpdir(), 'shell-argv0-'));
    const names = ['A=1', 'if', 'then', 'function', 'time', 'while'];
    for (const n of names) {
      writeFileSync(join(bin, n), '#!/bin/sh\necho "ran ${0##*/}:" "$@"\n');
      chmodSync(join(bin, n), 0o755);
    }
    afterAll(() => rmSync(bin, { recursive: true, force: true }));
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };

    for (const sh of ['/bin/sh', '/bin/bash']) {
      it(`${sh} runs A=1 and if as programs, not as an assignment or a keyword`, () => {
        for (const n of names) {
          const r = spawnSync(sh, ['-c', shellJoin([n, 'x', 'B=2'])], { encoding: 'utf8', env });
          expect({ n, status: r.status, out: r.stdout, err: r.stderr }).toEqual({ n, status: 0, out: `ran ${n}: x B=2\n`, err: '' });
        }
        // alone too: a bare `A=1` would succeed silently, having only set a variable
        const r = spawnSync(sh, ['-c', shellJoin(['A=1'])], { encoding: 'utf8', env });
        expect(r.stdout).toBe('ran A=1:\n');
      });
    }

    it('quotes only what needs it', () => {
      expect(shellQuoteCommand('apk')).toBe('apk');
      expect(shellQuoteCommand('/usr/bin/env')).toBe('/usr/bin/env');
      expect(shellQuoteCommand('A=1')).toBe("'A=1'");
      expect(shellQuoteCommand('if')).toBe("'if'");
      expect(shellQuoteCommand('ifconfig')).toBe('ifconfig');
      expect(shellJoin(['env', 'A=1', 'sh'])).toBe('env A=1 sh');
      expect(() => shellQuoteCommand('a\0b')).toThrow(/NUL/);
    });
  });
});
