import { Option, type Command } from 'commander';
import { TOPICS } from '../../protocol/constants.js';
import type { Event, Topic } from '../../protocol/index.js';
import { print, withClient } from '../context.js';
import { hostColor, stateText } from '../render.js';
import { renderRecord } from './logs.js';

function describe(e: Event): string {
  const t = new Date().toISOString().slice(11, 23);
  switch (e.type) {
    case 'host.state':
      return `${t} ${hostColor(e.host)} ${stateText(e.host.state)}${e.host.lastError ? ` (${e.host.lastError})` : ''}\n`;
    case 'host.added':
      return `${t} ${hostColor(e.host)} added (${e.host.role}, ${e.host.ip})\n`;
    case 'host.removed':
      return `${t} ${e.name} removed\n`;
    case 'registry.changed':
      return `${t} registry ${e.registry.ok ? `loaded: ${e.hosts.length} hosts` : `invalid, not applied: ${e.registry.error ?? ''}`}\n`;
    case 'log':
      return renderRecord(e.record);
    case 'daemon.stopping':
      return `${t} towerd is stopping (${e.reason})\n`;
    case 'job.progress':
      return `${t} ${e.job.host} ${e.job.phase} ${e.job.target}: ${e.job.bytesDone}${e.job.bytesTotal === null ? '' : `/${e.job.bytesTotal}`} bytes${e.job.message ? ` (${e.job.message})` : ''}\n`;
  }
}

export function register(program: Command): void {
  program
    .command('watch')
    .description('Print events as towerd pushes them (host states, registry changes), until interrupted.')
    .addOption(new Option('--topic <topic...>', 'topics to follow').choices(TOPICS).default(['hosts', 'registry', 'daemon']))
    .option('--json', 'one JSON event per line (the exact objects of the protocol)')
    .action(async (opts: { topic: Topic[]; json?: boolean }, cmd: Command) => {
      await withClient(cmd, (c) =>
        new Promise<void>((resolve, reject) => {
          c.onClose((err) => (err ? reject(err) : resolve()));
          c.subscribe(opts.topic, (e) => print(opts.json ? JSON.stringify(e) + '\n' : describe(e))).catch(reject);
        }),
      );
    });
}
