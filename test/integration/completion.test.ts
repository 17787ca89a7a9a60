import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOWERCTL, run, startDaemon, tempHome, towerctl, type RunningDaemon } from '../helpers/towerd.js';

let d: RunningDaemon;
let bin: string;
beforeAll(async () => {
  d = await startDaemon();
  await towerctl(d, ['host', 'add', 'router', '--router']);
  await towerctl(d, ['host', 'add', 'work', '--offline']);
  // the scripts call `towerctl` by name for host names
  bin = join(tempHome('bin-'), 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'towerctl'), `#!/bin/sh\nexec ${process.execPath} ${TOWERCTL} "$@"\n`);
  chmodSync(join(bin, 'towerctl'), 0o755);
});
afterAll(() => d.stop());

async function script(shell: string): Promise<string> {
  const r = await towerctl(d, ['completion', shell]);
  expect(r.code).toBe(0);
  return r.stdout;
}

/** Run the bash completion function for a command line the way bash does on TAB. */
async function bashComplete(words: string[]): Promise<string[]> {
  const file = join(tempHome('comp-'), 'towerctl.bash');
  writeFileSync(file, await script('bash'));
  const prog = `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _towerctl; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = await run('bash', ['-c', prog], { env: { ...d.env, PATH: `${bin}:${process.env.PATH}` } });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

describe('shell completion', () => {
  it('bash completes commands, subcommands and options', async () => {
    expect(await bashComplete(['towerctl', 'st'])).toEqual(['status']);
    expect(await bashComplete(['towerctl', 'host', 'r'])).toEqual(['reconnect', 'rm', 'remove', 'rotate-key']);
    expect(await bashComplete(['towerctl', 'host', 'add', 'x', '--of'])).toEqual(['--offline']);
    expect(await bashComplete(['towerctl', '--socket', '/x', 'logs', '--fo'])).toEqual(['--follow']);
  });

  it('bash completes host names from the running daemon', async () => {
    expect(await bashComplete(['towerctl', 'host', 'rm', ''])).toEqual(expect.arrayContaining(['router', 'work', '--yes']));
    expect(await bashComplete(['towerctl', 'host', 'show', 'w'])).toEqual(['work']);
  });

  it('zsh and fish scripts parse, and fish completes like bash', async () => {
    const dir = tempHome('comp-');
    writeFileSync(join(dir, '_towerctl'), await script('zsh'));
    const z = await run('zsh', ['-n', join(dir, '_towerctl')]);
    expect(z.code, z.stderr).toBe(0);
    writeFileSync(join(dir, 'towerctl.fish'), await script('fish'));
    const env = { ...d.env, PATH: `${bin}:${process.env.PATH}` };
    const f = await run('fish', ['-c', `source ${join(dir, 'towerctl.fish')}; complete -C 'towerctl host sh'; complete -C 'towerctl host show '`], { env });
    expect(f.code, f.stderr).toBe(0);
    expect(f.stdout).toMatch(/^show$/m);
    expect(f.stdout).toMatch(/^work$/m);
  });
});
