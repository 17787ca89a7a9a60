import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TowerEnvSyntaxError, parseTowerEnv, serializeTowerEnv } from '../../daemon/core/registry/towerenv.js';

const NASTY: Record<string, string> = {
  PLAIN: 'router',
  SPACES: 'two  spaces and\ttab',
  SINGLE: "it's 'quoted'",
  DOUBLE: 'say "hi"',
  DOLLAR: '$HOME ${PATH} $(id) `id`',
  BACKSLASH: 'C:\\path\\ and \\n not a newline',
  NEWLINE: 'line one\nline two',
  EMPTY: '',
  MIXED: `'"$\\\`;|&<>*?[]#~`,
  UNICODE: 'Wi-Fi café ☕',
};

/** What a real POSIX shell reads back after `. file`: each variable printed NUL-terminated. */
function sourceWithSh(file: string, keys: string[]): Record<string, string> {
  const script = `. "$1"; for k in ${keys.join(' ')}; do eval "printf '%s\\0' \\"\\$$k\\""; done`;
  const out = execFileSync('/bin/sh', ['-c', script, 'sh', file], { encoding: 'utf8' });
  const vals = out.split('\0').slice(0, keys.length);
  return Object.fromEntries(keys.map((k, i) => [k, vals[i]!]));
}

describe('tower.env', () => {
  it('writes values that /bin/sh sources back exactly, quotes, $, backslashes and newlines included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'towerenv-'));
    const file = join(dir, 'tower.env');
    writeFileSync(file, serializeTowerEnv(NASTY));
    expect(sourceWithSh(file, Object.keys(NASTY))).toEqual(NASTY);
  });

  it('reads back what it writes', () => {
    expect(parseTowerEnv(serializeTowerEnv(NASTY))).toEqual(NASTY);
  });

  it('reads TowerOS files and the other plain forms a shell accepts, agreeing with /bin/sh', () => {
    const text = [
      '# written by tower provision',
      "HOSTNAME='office'",
      'ONLINE=false',
      'export COLOR="31"',
      "TIMEZONE='Europe/Paris' # comment",
      'LANG=en_US.UTF-8',
      `MIXED=a'b c'"d e"\\ f`,
      '',
    ].join('\n');
    const parsed = parseTowerEnv(text);
    expect(parsed).toEqual({
      HOSTNAME: 'office',
      ONLINE: 'false',
      COLOR: '31',
      TIMEZONE: 'Europe/Paris',
      LANG: 'en_US.UTF-8',
      MIXED: 'ab cd e f',
    });
    const dir = mkdtempSync(join(tmpdir(), 'towerenv-'));
    writeFileSync(join(dir, 'e'), text);
    expect(sourceWithSh(join(dir, 'e'), Object.keys(parsed))).toEqual(parsed);
  });

  it.each([
    ['HOSTNAME=$(reboot)', 'expansions are not supported'],
    ["HOSTNAME='open", 'unterminated single quote'],
    ['rm -rf /', 'expected NAME=value'],
    ['A=1 B=2', 'one assignment per line'],
    ['A="x', 'unterminated double quote'],
  ])('refuses %j with a line number', (text, why) => {
    expect(() => parseTowerEnv(`OK=1\n${text}\n`)).toThrowError(TowerEnvSyntaxError);
    expect(() => parseTowerEnv(`OK=1\n${text}\n`)).toThrowError(new RegExp(`line 2: ${why.replace(/[()]/g, '\\$&')}`));
  });
});
