import type { Command } from 'commander';
import { resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { THIN_CLIENT_END } from '../../protocol/constants.js';
import type { FilesProgress, FilesTransfer } from '../../protocol/files.js';
import { UsageError, print, withClient } from '../context.js';
import { confirmTyped } from '../confirm-typed.js';
import { bytesText } from '../progress.js';
import { escapeControls as esc, jsonText, table } from '../render.js';
import { RemoteError } from '../rpc.js';

const END_RE = /^([a-z0-9](?:[a-z0-9-]{0,13}[a-z0-9])?):(.*)$/s;

/** `HOST:PATH` (a host, or thinclient) or a path on the thin client (resolved against the current folder). */
export function parseSpec(arg: string, cwd = process.cwd()): { end: string; path: string | undefined } {
  const m = END_RE.exec(arg);
  if (m) return { end: m[1] as string, path: m[2] === '' ? undefined : m[2] };
  return { end: THIN_CLIENT_END, path: resolve(cwd, arg) };
}

/** One line about a transfer, for `files log`, `watch` and the end of `cp`. */
export function transferText(t: FilesTransfer): string {
  const what = `${t.entryCount} entr${t.entryCount === 1 ? 'y' : 'ies'}, ${bytesText(t.bytes)}`;
  const head = `${t.time.slice(0, 19).replace('T', ' ')} ${t.move ? 'mv' : 'cp'} ${esc(t.from)} → ${esc(t.to)} ${t.state}`;
  const names = t.names.length ? `: ${esc(t.dir ?? '')}/{${t.names.map((n) => esc(n)).join(', ')}}` : ` (${esc(t.sources.join(' '))})`;
  return `${head} ${what}${names}${t.reason ? ` — ${esc(t.reason)}` : ''}`;
}

function entriesTable(t: FilesTransfer): string {
  const rows = t.entries.filter((e) => e.type === 'file').map((e) => [esc(e.name), String(e.size), e.sha256 ?? '']);
  const more = t.entryCount > t.entries.length ? `… and ${t.entryCount - t.entries.length} more entries\n` : '';
  return table(['NAME', 'BYTES', 'SHA-256'], rows) + more;
}

function refusalText(data: unknown): string {
  const t = (data as { transfer?: FilesTransfer } | undefined)?.transfer;
  if (!t?.refusals.length) return '';
  return t.refusals.map((r) => `  refused ${esc(r.name)}: ${esc(r.reason)}\n`).join('');
}

class ProgressLine {
  private open = false;
  constructor(private readonly mode: 'tty' | 'json' | 'none') {}
  update(p: FilesProgress): void {
    if (this.mode === 'json') return void process.stdout.write(jsonText({ progress: p }) + '\n');
    if (this.mode !== 'tty') return;
    const width = process.stderr.columns || 80;
    const line = `copying  ${bytesText(p.bytes)}  ${p.entries} entries${p.bytesPerSecond ? `  ${bytesText(p.bytesPerSecond)}/s` : ''}  ${esc(p.current ?? '')}`;
    process.stderr.write(`\r\x1b[K${line.slice(0, width - 1)}`);
    this.open = true;
  }
  end(): void {
    if (this.open) process.stderr.write('\r\x1b[K');
    this.open = false;
  }
}

async function transfer(argsIn: string[], opts: { yes?: boolean; json?: boolean }, cmd: Command, move: boolean): Promise<void> {
  if (argsIn.length < 2) throw new UsageError('give at least one source and a target: towerctl cp [HOST:]PATH... [HOST:][DIR]');
  const specs = argsIn.map((a) => parseSpec(a));
  const target = specs.pop()!;
  const from = specs[0]!.end;
  if (specs.some((s) => s.end !== from)) throw new UsageError('all sources must be on the same host (or all on the thin client)');
  if (specs.some((s) => s.path === undefined)) throw new UsageError(`name a path on ${from}: ${from}:PATH`);
  const id = randomBytes(8).toString('hex');
  const tty = process.stdin.isTTY === true && process.stderr.isTTY === true;
  const view = new ProgressLine(opts.json ? 'json' : tty ? 'tty' : 'none');
  await withClient(cmd, async (c) => {
    await c.subscribe(['files'], (e) => {
      if (e.type === 'files.progress' && e.progress.id === id) view.update(e.progress);
    });
    let t: FilesTransfer;
    try {
      t = await c.call('files.copy', {
        id,
        from,
        paths: specs.map((s) => s.path!),
        to: target.end,
        ...(target.path ? { dir: target.path } : {}),
        move,
        yes: opts.yes === true,
        interactive: tty && !opts.json,
      });
    } catch (err) {
      view.end();
      if (err instanceof RemoteError) process.stderr.write(refusalText(err.data));
      throw err;
    }
    view.end();
    if (t.state === 'staged') {
      process.stderr.write(entriesTable(t));
      const ok = await confirmTyped(
        `${move ? 'Move' : 'Copy'} ${t.entryCount} entries (${bytesText(t.bytes)}) from ${esc(t.from)} to ${esc(t.to)}:${esc(t.dir ?? '')}?` +
          ' They are staged there, hidden, until you answer.',
        t.to,
      );
      if (!ok) {
        await c.call('files.discard', { id });
        throw new UsageError(`not confirmed: nothing was written to ${t.to}`);
      }
      t = await c.call('files.commit', { id, confirm: t.to });
    }
    print(opts.json ? jsonText(t) + '\n' : transferText(t) + '\n');
  });
}

const POLICY_HELP = `
towerd reads each source's tar stream, checks every entry (regular files and folders only; relative names without
..; no setuid, setgid or sticky bits; within files.maxBytes and files.maxEntries) and writes a fresh stream to the
target, which unpacks it into a hidden folder (.tower-incoming-ID) in the target folder: the files appear under their
names only when all of them passed. A symlink, device, fifo, hard link or oversized entry is refused by name and the
target keeps nothing. Default target folder: ~/TowerIncoming/SOURCE. An existing name gets a suffix: "name (1).ext".

towerd.json files.policy decides per direction (first matching rule; no match = ask; default: offline → online
deny). ask lists every file with its size and SHA-256 and waits until you type the target's name; without a
terminal, ask is a refusal unless the rule has "yes": true and --yes is given.

The thin client is "thinclient:" (or a plain path). Exit status: 0 done, 1 refused or failed (the refused names
are listed), 2 not confirmed or a bad command line, 3 towerd not running, 4 a host not connected.`;

export function register(program: Command): void {
  for (const [name, move] of [
    ['cp', false],
    ['mv', true],
  ] as const) {
    program
      .command(name)
      .description(move ? 'Move files between hosts: the sources are removed once the target has them in place.' : 'Copy files between hosts and the thin client, checked entry by entry.')
      .argument('<paths...>', '[HOST:]PATH... [HOST:][DIR]')
      .option('--yes', 'answer an ask rule that has "yes": true')
      .option('--json', 'progress and the result as JSON lines')
      .addHelpText(
        'after',
        `${POLICY_HELP}\n\nExamples:\n  $ towerctl ${name} office:report.pdf vault:\n  $ towerctl ${name} office:photos office:notes.txt vault:archive/2026\n  $ towerctl ${name} ~/Downloads/key.asc office:`,
      )
      .action((paths: string[], opts: { yes?: boolean; json?: boolean }, cmd: Command) => transfer(paths, opts, cmd, move));
  }
  const files = program.command('files').description('Files between hosts: the transfer log.');
  files
    .command('log')
    .description('Transfers and refusals, newest last: ends, names, sizes, SHA-256, result (~/.local/tower/files.log).')
    .option('-n, --lines <n>', 'transfers to show (1–10000)', '20')
    .option('--json', 'one JSON transfer per line')
    .option('-v, --verbose', 'every file with its size and SHA-256')
    .addHelpText('after', '\nExamples:\n  $ towerctl files log\n  $ towerctl files log -n 5 --verbose')
    .action(async (opts: { lines: string; json?: boolean; verbose?: boolean }, cmd: Command) => {
      const lines = Number(opts.lines);
      if (!Number.isInteger(lines) || lines < 1 || lines > 10_000) throw new UsageError('--lines takes a number from 1 to 10000');
      const { transfers } = await withClient(cmd, (c) => c.call('files.log', { lines }));
      if (opts.json) return print(transfers.map((t) => jsonText(t) + '\n').join(''));
      if (!transfers.length) return print('No transfers recorded yet.\n');
      for (const t of transfers) {
        print(transferText(t) + '\n');
        for (const r of t.refusals) print(`  refused ${esc(r.name)}: ${esc(r.reason)}\n`);
        if (opts.verbose) print(entriesTable(t).replace(/^/gm, '  '));
      }
    });
}
