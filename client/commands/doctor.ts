import type { Command } from 'commander';
import type { DoctorCheck } from '../../protocol/setup.js';
import { ExitCode } from '../../protocol/errors.js';
import { print, withClient } from '../context.js';
import { escapeControls as esc, json, style, table } from '../render.js';

const AFTER = `
The thin client (towerd's side): the viewer (desktop.viewer), xdotool, xev, wl-copy/wl-paste, xz and mtools, the
PulseAudio socket, the sway socket, towerd's socket mode, and a pinned key for every registered host. Each host:
its connection, every program Tower runs there, free space on / and /tmp, the sound listener, its clock against
this one (round trip corrected, with bounds), and whether apk's repositories answer (offline hosts: through the
package relay). Each row is ok, warn or fail with what to do.

Exit status: 0 all ok; 1 a warning; 4 a failure; 3 towerd not running.

Examples:
  $ towerctl doctor
  $ towerctl doctor office --json`;

/** 0 all ok, 1 a warning, 4 a failure. */
export function doctorExit(checks: DoctorCheck[]): number {
  if (checks.some((c) => c.status === 'fail')) return ExitCode.RemoteFailure;
  return checks.some((c) => c.status === 'warn') ? ExitCode.Failure : ExitCode.Ok;
}

export function renderDoctor(checks: DoctorCheck[]): string {
  const mark = (s: DoctorCheck['status']) => (s === 'ok' ? 'ok' : s === 'warn' ? style('yellow', 'warn') : style('red', 'fail'));
  // everything but the status words comes from towerd, much of it from hosts
  const rows = checks.map((c) => [esc(c.scope), esc(c.check), mark(c.status), esc(c.detail), esc(c.fix)]);
  const n = (s: DoctorCheck['status']) => checks.filter((c) => c.status === s).length;
  return table(['WHERE', 'CHECK', 'STATUS', 'DETAIL', 'TO DO'], rows) + `\n${n('ok')} ok, ${n('warn')} warn, ${n('fail')} fail\n`;
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('Check the thin client and hosts for what Tower needs: one table, each check ok, warn or fail with what to do.')
    .argument('[hosts...]', 'only these hosts (default: every host)')
    .option('--json', 'print the checks as JSON')
    .addHelpText('after', AFTER)
    .action(async (hosts: string[], opts: { json?: boolean }, cmd: Command) => {
      const env: Record<string, string> = {};
      for (const k of ['SWAYSOCK', 'WAYLAND_DISPLAY', 'XDG_RUNTIME_DIR'] as const) {
        const v = process.env[k];
        if (v && !v.includes('\n')) env[k] = v;
      }
      const { checks } = await withClient(cmd, (c) => c.call('doctor.run', { ...(hosts.length ? { hosts } : {}), env }));
      print(opts.json ? json(checks) : renderDoctor(checks));
      process.exitCode = doctorExit(checks);
    });
}
