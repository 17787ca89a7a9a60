import { Option, type Command } from 'commander';
import { TOPICS } from '../../protocol/constants.js';
import type { Event, Topic } from '../../protocol/index.js';
import { print, withClient } from '../context.js';
import { escapeControls as esc, hostColor, jsonText, stateText } from '../render.js';
import { renderRecord } from './logs.js';
import { transferText } from './clip.js';
import { transferText as filesText } from './files.js';

function describe(e: Event): string {
  const t = new Date().toISOString().slice(11, 23);
  switch (e.type) {
    case 'host.state':
      return `${t} ${hostColor(e.host)} ${stateText(e.host.state)}${e.host.lastError ? ` (${esc(e.host.lastError)})` : ''}\n`;
    case 'host.added':
      return `${t} ${hostColor(e.host)} added (${e.host.role}, ${esc(e.host.ip)})\n`;
    case 'host.removed':
      return `${t} ${esc(e.name)} removed\n`;
    case 'host.updates': {
      const u = e.updates;
      const now = u.running ? `updates ${u.running}` : u.last ? `updates ${u.last.result}${u.last.reason ? ` (${esc(u.last.reason)})` : ''}` : 'updates';
      return `${t} ${hostColor(e.host)} ${now}, ${u.pending === null ? 'pending unknown' : `${u.pending} pending`}${u.waiting ? `; ${esc(u.waiting)}` : ''}\n`;
    }
    case 'host.posture': {
      const open = e.audit.checks.filter((c) => c.status === 'open').map((c) => esc(`${c.check}${c.target ? ` ${c.target}` : ''}`));
      return `${t} ${hostColor(e.host)} posture ${e.audit.posture}${open.length ? `: ${open.join('; ')}` : e.audit.error ? ` (${esc(e.audit.error)})` : ''}\n`;
    }
    case 'host.backup': {
      const b = e.set;
      const now = b.running ? `backup ${b.set} ${b.running}${b.progress ? ` ${Math.round(b.progress.percent * 100)}%` : ''}` : b.last ? `backup ${b.set} ${b.last.result}${b.last.reason ? ` (${esc(b.last.reason)})` : ''}` : `backup ${b.set}`;
      return `${t} ${hostColor(e.host)} ${now}${b.stale ? ', stale' : ''}${b.waiting ? `; ${esc(b.waiting)}` : ''}\n`;
    }
    case 'registry.changed':
      return `${t} registry ${e.registry.ok ? `loaded: ${e.hosts.length} hosts` : `invalid, not applied: ${esc(e.registry.error ?? '')}`}\n`;
    case 'log':
      return renderRecord(e.record);
    case 'daemon.stopping':
      return `${t} towerd is stopping (${esc(e.reason)})\n`;
    case 'app.started':
      return `${t} ${esc(e.app.host)} app ${esc(e.app.id)} started: ${esc(e.app.argv.join(' '))} (display ${esc(e.app.display ?? '-')}, pid ${e.app.pid ?? '-'})\n`;
    case 'app.exited':
      return `${t} ${esc(e.app.host)} app ${esc(e.app.id)} exited${e.app.exitCode === null ? '' : ` with status ${e.app.exitCode}`}\n`;
    case 'app.viewer':
      return `${t} ${esc(e.app.host)} app ${esc(e.app.id)} viewer ${e.viewer} (${esc(e.reason)})\n`;
    case 'clipboard.transfer':
      return `${t} ${transferText(e.transfer)}\n`;
    case 'export.state':
      return `${t} state export ${e.export.state}${e.export.lastExportAt ? ` (last ${e.export.lastExportAt})` : ''}\n`;
    case 'files.transfer':
      return `${t} ${filesText(e.transfer)}\n`;
    case 'files.progress':
      return `${t} files ${e.progress.id}: ${e.progress.bytes} bytes, ${e.progress.entries} entries\n`;
    case 'job.progress':
      return `${t} ${esc(e.job.host)} ${e.job.phase} ${esc(e.job.target)}: ${e.job.bytesDone}${e.job.bytesTotal === null ? '' : `/${e.job.bytesTotal}`} bytes${e.job.message ? ` (${esc(e.job.message)})` : ''}\n`;
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
          c.subscribe(opts.topic, (e) => print(opts.json ? jsonText(e) + '\n' : describe(e))).catch(reject);
        }),
      );
    });
}
