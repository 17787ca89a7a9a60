import { Option, type Command } from 'commander';
import { LOG_LEVELS } from '../../protocol/constants.js';
import type { LogLevelName, LogRecord } from '../../protocol/index.js';
import { UsageError, print, withClient } from '../context.js';
import { escapeControls as esc, jsonText, style, useColor } from '../render.js';

const LEVEL_STYLE: Record<LogLevelName, Parameters<typeof style>[0]> = {
  trace: 'gray',
  debug: 'gray',
  info: 'green',
  warn: 'yellow',
  error: 'red',
  fatal: ['red', 'bold'],
};
const ORDER = LOG_LEVELS;

export function renderRecord(r: LogRecord, color = useColor()): string {
  const t = new Date(r.time).toISOString().replace('T', ' ').slice(0, 23);
  const fields = Object.entries(r.fields)
    .map(([k, v]) => esc(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`))
    .join(' ');
  const host = r.host ? ` [${esc(r.host)}]` : '';
  // one record, one line: a host's stderr in a field cannot start a line that looks like another record
  return `${t} ${style(LEVEL_STYLE[r.level], r.level.toUpperCase().padEnd(5), color)}${host} ${esc(r.msg)}${fields ? ' ' + style('gray', fields, color) : ''}\n`;
}

export function register(program: Command): void {
  program
    .command('logs')
    .description('Print towerd’s recent log records; with -f keep printing new ones.')
    .option('-f, --follow', 'keep the connection open and print records as they come')
    .option('-n, --lines <n>', 'how many recent records (1–10000)', '100')
    .addOption(new Option('--level <level>', 'minimum level').choices(ORDER).default('info'))
    .option('--json', 'one JSON record per line')
    .action(async (opts: { follow?: boolean; lines: string; level: LogLevelName; json?: boolean }, cmd: Command) => {
      const lines = Number(opts.lines);
      if (!Number.isInteger(lines) || lines < 1 || lines > 10_000) throw new UsageError('--lines takes a number from 1 to 10000');
      const show = (r: LogRecord) => print(opts.json ? jsonText(r) + '\n' : renderRecord(r));
      await withClient(cmd, async (c) => {
        const { records } = await c.call('logs.tail', { lines, level: opts.level });
        records.forEach(show);
        if (!opts.follow) return;
        const min = ORDER.indexOf(opts.level);
        await new Promise<void>((resolve, reject) => {
          c.onClose((err) => (err ? reject(err) : resolve()));
          c.subscribe(['log'], (e) => {
            if (e.type === 'log' && ORDER.indexOf(e.record.level) >= min) show(e.record);
          }).catch(reject);
        });
      });
    });
}
