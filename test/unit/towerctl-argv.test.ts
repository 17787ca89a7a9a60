import { describe, expect, it } from 'vitest';
import { buildProgram, onlyCommand } from '../../client/towerctl.js';

describe('towerctl sets up only the command it runs', () => {
  it.each([
    [['node', 'towerctl', 'status', '--json'], 'status'],
    [['node', 'towerctl', '--socket', '/s', 'host', 'show', 'x'], 'host'],
    [['node', 'towerctl', '--socket=/s', 'exec', 'h', '--', 'ls'], 'exec'],
    [['node', 'towerctl', 'completion', 'bash'], undefined],
    [['node', 'towerctl', 'help', 'status'], undefined],
    [['node', 'towerctl', '--help'], undefined],
    [['node', 'towerctl'], undefined],
  ])('%j → %s', (argv, want) => expect(onlyCommand(argv)).toBe(want));

  it('a named command gets its whole module (exec brings ssh and poweroff); an unknown name gets the whole tree', () => {
    expect(buildProgram('ssh').commands.map((c) => c.name())).toEqual(['exec', 'ssh', 'poweroff']);
    expect(buildProgram('nonsense').commands.length).toBe(buildProgram().commands.length);
    expect(buildProgram().commands.length).toBeGreaterThan(15);
  });
});
