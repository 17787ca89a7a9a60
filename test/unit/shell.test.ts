import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellJoin, shellQuote } from '../../daemon/util/shell.js';

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
});
