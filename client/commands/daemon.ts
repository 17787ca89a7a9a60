import type { Command } from 'commander';
import { print, withClient } from '../context.js';
import { escapeControls as esc, formatDuration, json, table } from '../render.js';

export function register(program: Command): void {
  const daemon = program.command('daemon').description('Inspect or control the running towerd.');
  daemon
    .command('info')
    .description('Version, pid, uptime, socket and the files towerd uses.')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const i = await withClient(cmd, (c) => c.call('daemon.info'));
      if (opts.json) return print(json(i));
      const rows: [string, string][] = [
        ['version', `${i.version} (protocol ${i.protocolVersion})`],
        ['pid', String(i.pid)],
        ['uptime', formatDuration(i.uptimeMs)],
        ['socket', i.socket],
        ['node', i.node],
        ['registry', i.paths.registry],
        ['hosts folder', i.paths.towerDir],
        ['ssh config', i.paths.sshConfig],
        ['known_hosts', i.paths.knownHosts],
        ['settings', i.paths.settings],
      ];
      print(table(['FIELD', 'VALUE'], rows.map(([k, v]) => [k, esc(v)])));
    });
  daemon
    .command('reload')
    .description('Re-read towerd.json and the host registry now (what SIGHUP does).')
    .option('--json', 'print the registry status as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const r = await withClient(cmd, (c) => c.call('daemon.reload'));
      if (opts.json) return print(json(r));
      if (r.registry.ok) print(`registry reloaded: ${r.registry.hostCount} hosts\n`);
      else throw new Error(`registry not applied: ${r.registry.error ?? ''}`);
    });
}
