import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import type { HostInfo, Role } from '../../protocol/index.js';
import { UsageError, print, withClient } from '../context.js';
import { confirm } from '../prompt.js';
import { registerRotateKey } from './rotate-key.js';
import { registerSetup } from './setup.js';
import { clockLine } from './clock.js';
import { ago, escapeControls as esc, hostColor, json, stateText, table } from '../render.js';

function renderHost(h: HostInfo): string {
  return table(
    ['FIELD', 'VALUE'],
    [
      ['name', hostColor(h)],
      ['role', h.role],
      ['address', esc(`${h.ip} (${h.network})`)],
      ['user', esc(h.user)],
      ['identity file', esc(h.identityFile)],
      ['colour', esc(`${h.color.name} (${h.color.code}, ${h.color.hex})`)],
      ['state', stateText(h.state)],
      ['last contact', ago(h.lastContact)],
      ['rtt', h.rttMs === null ? '-' : `${h.rttMs.toFixed(1)}ms`],
      ['last error', esc(h.lastError ?? '-')],
      ['version', esc(h.version ?? '-')],
      ['posture', h.posture ? `${h.posture} (towerctl audit ${esc(h.name)})` : '-'],
      ['menu', !h.menu ? 'off' : h.menu.lastError ? esc(`sync failed ${ago(h.menu.lastSync)}: ${h.menu.lastError}`) : h.menu.lastSync ? `${h.menu.apps} apps, synced ${ago(h.menu.lastSync)}` : 'not synced yet'],
      ['clock', clockLine(h.clock)],
      ...(h.reinstall ? [['reinstall', reinstallText(h)]] : []),
    ],
  );
}

/** `towerctl reprovision`'s state for `host show`: waiting for the new system, restoring, or the outcome. */
function reinstallText(h: HostInfo): string {
  const r = h.reinstall!;
  const at = `media written ${r.since.slice(0, 19).replace('T', ' ')} UTC`;
  if (r.state === 'waiting') return esc(`${at}; its saved world is restored on its first connection on the new system${r.error ? ` (last try: ${r.error})` : ''}`);
  if (r.state === 'restoring') return `${at}; restoring its saved world`;
  const diff = r.world ? `${r.world.missing.length} added, ${r.world.present.length} already there, ${r.world.extra.length} extra` : 'no saved world';
  return esc(r.state === 'done' ? `${at}; world restored (${diff})` : `${at}; world not restored: ${r.error ?? ''}`);
}

interface AddOptions {
  online?: boolean;
  offline?: boolean;
  router?: boolean;
  ip?: string;
  user?: string;
  key?: string;
  color?: string;
  json?: boolean;
}

export function register(program: Command): void {
  const host = program.command('host').description('List, show, add and remove hosts in the registry (~/.local/tower).');

  host
    .command('list')
    .description('List hosts, router first.')
    .option('--json', 'print as JSON')
    .option('--names', 'print only the names, one per line (for scripts and shell completion)')
    .action(async (opts: { json?: boolean; names?: boolean }, cmd: Command) => {
      const { hosts } = await withClient(cmd, (c) => c.call('host.list'));
      if (opts.json) return print(json(hosts));
      if (opts.names) return print(hosts.map((h) => esc(h.name) + '\n').join(''));
      print(table(['HOST', 'ROLE', 'ADDRESS', 'USER', 'COLOUR', 'STATE'], hosts.map((h) => [hostColor(h), h.role, esc(h.ip), esc(h.user), esc(h.color.name), stateText(h.state)])));
    });

  host
    .command('show')
    .description('Show one host.')
    .argument('<host>', 'host name')
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      const h = await withClient(cmd, (c) => c.call('host.get', { name }));
      print(opts.json ? json(h) : renderHost(h));
    });

  host
    .command('add')
    .description('Register a host: assign its address, write its ssh config block, tower.env and key pair.')
    .argument('<name>', '1–15 of a-z, 0-9 and inner hyphens; "router" is the router')
    .addOption(new Option('--online', 'on the online network (192.168.2.0/24 by default)').conflicts(['offline', 'router']))
    .addOption(new Option('--offline', 'on the offline network (192.168.3.0/24 by default)').conflicts(['online', 'router']))
    .addOption(new Option('--router', 'the router (name must be "router"; address .1 of the online network)').conflicts(['online', 'offline']))
    .option('--ip <address>', 'a specific address (default: the lowest free from .200)')
    .option('--user <name>', 'login user on the host (default: your user name)')
    .option('--key <file>', 'copy this unencrypted OpenSSH ed25519 private key instead of generating one')
    .option('--color <code>', 'ANSI colour code from TowerOS’s list, e.g. 31 (default: next in order)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Writes ~/.local/tower/hosts/NAME/{id_ed25519,id_ed25519.pub,tower.env} (folder 0700, key and tower.env 0600),
appends "Host NAME" to ~/.local/tower/config and makes sure ~/.ssh/config includes that file, so that plain
"ssh NAME" works. Nothing is sent to the host.

Examples:
  $ towerctl host add router --router
  $ towerctl host add work --offline
  $ towerctl host add web --online --ip 192.168.2.210 --key ~/.ssh/web_ed25519`,
    )
    .action(async (name: string, opts: AddOptions, cmd: Command) => {
      const role: Role | undefined = opts.router ? 'router' : opts.online ? 'online' : opts.offline ? 'offline' : undefined;
      if (!role) throw new UsageError('say which network: --online, --offline or --router');
      let color: number | undefined;
      if (opts.color !== undefined) {
        color = Number(opts.color);
        if (!Number.isInteger(color)) throw new UsageError('--color takes an ANSI colour code such as 31');
      }
      const r = await withClient(cmd, (c) =>
        c.call('host.add', {
          name,
          role,
          ip: opts.ip,
          user: opts.user,
          keyFile: opts.key ? resolve(opts.key) : undefined,
          color,
        }),
      );
      if (opts.json) return print(json(r));
      print(`added ${hostColor(r.host)} (${r.host.role}) at ${esc(r.host.ip)}, user ${esc(r.host.user)}\n`);
      print(`${r.generatedKey ? 'generated' : 'copied'} key ${esc(r.host.identityFile)}\npublic key: ${esc(r.publicKey)}\n`);
    });

  host
    .command('reconnect')
    .description('Drop the host’s connection and connect again now, without waiting for the backoff (also after hostkey-mismatch or auth-failed).')
    .argument('<host>', 'host name')
    .option('--json', 'print the host as JSON')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      const h = await withClient(cmd, (c) => c.call('host.reconnect', { name }));
      print(opts.json ? json(h) : `reconnecting ${hostColor(h)}\n`);
    });

  host
    .command('rm')
    .alias('remove')
    .description('Unregister a host: its config block, its own known_hosts lines and its folder (keys included).')
    .argument('<host>', 'host name')
    .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--keep-files', 'keep ~/.local/tower/hosts/NAME (keys and tower.env)')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, opts: { yes?: boolean; keepFiles?: boolean; json?: boolean }, cmd: Command) => {
      await withClient(cmd, async (c) => {
        const h = await c.call('host.get', { name });
        if (!opts.yes) {
          const what = opts.keepFiles ? '' : ' and delete its keys';
          if (!(await confirm(`Remove host ${esc(h.name)} (${h.role}, ${esc(h.ip)})${what}?`))) throw new UsageError('not confirmed; nothing was changed');
        }
        const r = await c.call('host.remove', { name, keepFiles: opts.keepFiles ?? false });
        if (opts.json) return print(json(r));
        print(`removed ${name}: config block, ${r.knownHostsLinesRemoved} known_hosts line(s)${r.filesRemoved ? ', its folder' : ''}\n`);
      });
    });

  registerSetup(host);
  registerRotateKey(host);
}
