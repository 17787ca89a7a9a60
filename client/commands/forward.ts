import { Option, type Command } from 'commander';
import type { ForwardInfo } from '../../protocol/index.js';
import { UsageError, print, withClient } from '../context.js';
import { endpointText, parseForwardSpec } from '../forward-spec.js';
import { escapeControls as esc, json, table } from '../render.js';

function rows(fs: ForwardInfo[]): string {
  if (fs.length === 0) return 'No forwards.\n';
  return table(
    ['ID', 'HOST', 'DIR', 'LISTEN', 'CONNECT', 'STATE', 'CONNS', 'TO HOST', 'FROM HOST', 'LAST ERROR'],
    fs.map((f) => [
      esc(f.id),
      esc(f.host),
      f.direction === 'local' ? '-L' : '-R',
      esc(endpointText(f.listen)),
      esc(endpointText(f.connect)),
      f.state,
      `${f.openConnections}/${f.totalConnections}`,
      String(f.bytesToHost),
      String(f.bytesFromHost),
      esc(f.lastError ?? ''),
    ]),
  );
}

export function register(program: Command): void {
  const fwd = program.command('forward').description('Open, list and close port and socket forwards over a host’s supervised connection.');

  fwd
    .command('open')
    .description('Open a forward that lasts until closed (or towerd stops) and comes back after every reconnect.')
    .argument('<host>', 'host name')
    .addOption(new Option('-L, --local <spec>', 'listen on the thin client, connect from the host').conflicts('remote'))
    .addOption(new Option('-R, --remote <spec>', 'listen on the host, connect on the thin client').conflicts('local'))
    .option('--json', 'print the forward as JSON')
    .addHelpText(
      'after',
      `
SPEC uses OpenSSH's -L/-R syntax: [bind:]port:host:hostport, [bind:]port:/socket, /socket:host:hostport or
/socket:/socket. Listeners are on loopback (127.0.0.1 by default, or ::1) or Unix sockets (mode 0600) only.
Port 0 picks a free port; the result shows which. A remote forward reaches only loopback or Unix sockets on the
thin client.

Examples:
  $ towerctl forward open work -L 8080:127.0.0.1:80        # http://127.0.0.1:8080 → work's port 80
  $ towerctl forward open work -L 0:/run/app.sock          # a free port → a Unix socket on work
  $ towerctl forward open work -R 4713:127.0.0.1:4713      # work's 127.0.0.1:4713 → PulseAudio here`,
    )
    .action(async (host: string, opts: { local?: string; remote?: string; json?: boolean }, cmd: Command) => {
      const spec = opts.local ?? opts.remote;
      if (!spec) throw new UsageError('give -L SPEC or -R SPEC');
      const { listen, connect } = parseForwardSpec(spec);
      const f = await withClient(cmd, (c) => c.call('forward.open', { host, direction: opts.local ? 'local' : 'remote', listen, connect }));
      print(opts.json ? json(f) : esc(`${f.id}: ${f.direction === 'local' ? 'here' : host} ${endpointText(f.listen)} → ${f.direction === 'local' ? host : 'here'} ${endpointText(f.connect)} (${f.state})`) + '\n');
    });

  fwd
    .command('list')
    .description('List forwards with their state, connections and bytes.')
    .argument('[host]', 'only this host’s forwards')
    .option('--json', 'print as JSON')
    .action(async (host: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const { forwards } = await withClient(cmd, (c) => c.call('forward.list', host ? { host } : {}));
      print(opts.json ? json(forwards) : rows(forwards));
    });

  fwd
    .command('close')
    .description('Close a forward: its listener and every connection through it.')
    .argument('<id>', 'forward id, as listed')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await withClient(cmd, (c) => c.call('forward.close', { id }));
      print(`closed ${id}\n`);
    });
}
