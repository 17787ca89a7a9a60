import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildProgram, onlyCommand, run } from '../../client/towerctl.js';

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

describe('an unknown command is a usage error', () => {
  afterEach(() => vi.restoreAllMocks());

  /** run() with stdout and stderr captured: what towerctl would print, and its exit status */
  async function towerctl(...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    const code = await run(['node', 'towerctl', ...args]);
    vi.restoreAllMocks();
    return { code, stdout: out.join(''), stderr: err.join('') };
  }

  it.each([
    [['NOSUCH', '--help']],
    [['NOSUCH', '-h']],
    [['NOSUCH']],
    [['--socket', '/nonexistent', 'NOSUCH', '--help']],
    [['help', 'NOSUCH']],
    [['host', 'NOSUCH', '--help']],
    [['host', 'help', 'NOSUCH']],
  ])('towerctl %j exits 2 and prints no help', async (args) => {
    const r = await towerctl(...args);
    expect(r).toEqual({ code: 2, stdout: '', stderr: "error: unknown command 'NOSUCH'\n(run with --help for usage)\n" });
  });

  it.each([[['--help']], [['host', '--help']], [['help', 'host']], [['status', '--help']], [['--socket', '/nonexistent', 'host', 'list', '-h']]])(
    'towerctl %j still shows help and exits 0',
    async (args) => {
      const r = await towerctl(...args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: towerctl/);
    },
  );
});
