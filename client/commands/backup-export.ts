import type { Command } from 'commander';
// no dynamic import of a built-in: towerctl runs from a V8 code cache where that fails (the modules of our own
// below are loaded on use, as esbuild bundles them)
import { lstat, readFile } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { resolvePaths } from '../../daemon/shared/paths.js';
import { TowerClient } from '../rpc.js';
import { UsageError, print, socketPath } from '../context.js';
import { escapeControls as esc, json } from '../render.js';
import { askHidden, passphraseFromFile } from '../secret.js';

/** The encrypted file an import reads at most (the archive's own cap, base64 and age's framing included). */
const MAX_EXPORT_FILE_BYTES = 64 * 1024 * 1024;

/** Tell a running towerd (best effort: an export or import needs no daemon); what it answered, or null. */
async function tellTowerd<T>(cmd: Command, fn: (c: TowerClient) => Promise<T>): Promise<T | null> {
  let c: TowerClient;
  try {
    c = await TowerClient.connect(socketPath(cmd), { timeoutMs: 2000 });
  } catch {
    return null;
  }
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

function kib(n: number): string {
  return n < 1024 ? `${n} bytes` : `${(n / 1024).toFixed(1)} KiB`;
}

async function exportPassphrase(file: string | undefined, min: number): Promise<string> {
  const p = file ? await passphraseFromFile(file) : await askHidden('Passphrase for the export: ', '--passphrase-file FILE');
  if ([...p].length < min) throw new UsageError(`the passphrase has fewer than ${min} characters: choose a longer one (several random words)`);
  if (!file && (await askHidden('The same passphrase again: ', '--passphrase-file FILE')) !== p) throw new UsageError('the two passphrases differ; nothing was written');
  return p;
}

/** `towerctl backup export FILE` and `towerctl backup import FILE`: the thin client's own state, in one encrypted file. */
export function addExportCommands(backup: Command): void {
  backup
    .command('export')
    .argument('<file>', 'the export file to write (replaced if it exists)')
    .description('Write the thin client’s own state (~/.local/tower, Tower’s known_hosts lines, towerd.json) into one file encrypted with a passphrase.')
    .option('--passphrase-file <file>', 'read the passphrase from this file (its first line) instead of the terminal')
    .option('--json', 'print what was written as JSON')
    .addHelpText(
      'after',
      `
The file holds every host's private key, LUKS key file and host keys: whoever has it and the passphrase can
reach and unlock every host. It is an age file (age-encryption.org, scrypt passphrase recipient, work factor
2^18), so \`age -d FILE\` reads it too. Keep it off the thin client (a USB stick in a drawer). The passphrase is
asked twice on the terminal with no echo (at least 12 characters; several random words are best), or read from
--passphrase-file; it never appears in arguments or logs. towerd need not run; when it does, the bar's export
warning clears.

Examples:
  $ towerctl backup export /media/usb/tower-state.age
  Passphrase for the export:
  The same passphrase again:
  exported 3 hosts (13 files, 3 known_hosts lines, towerd.json) to /media/usb/tower-state.age (21.4 KiB)
  $ age -d -o - /media/usb/tower-state.age | head -c 60`,
    )
    .action(async (fileArg: string, _opts: unknown, cmd: Command) => {
      // `backup` itself takes --json wherever it stands: read this command's options with its parent's
      const opts = cmd.optsWithGlobals<{ passphraseFile?: string; json?: boolean }>();
      const { collectState, writeExportRecord, NoRegistryError } = await import('../../daemon/shared/export/disk.js');
      const { checkArchive, encodeArchive, stateDigest } = await import('../../daemon/shared/export/archive.js');
      const { encryptState, MIN_PASSPHRASE_CHARS } = await import('../../daemon/shared/export/crypto.js');
      const { writeFileAtomic } = await import('../../daemon/shared/atomic.js');
      const paths = resolvePaths();
      const file = resolve(fileArg);
      if (file === paths.towerDir || file.startsWith(paths.towerDir + sep)) throw new UsageError(`write the export outside ${paths.towerDir}: it is the state it saves`);
      let collected;
      try {
        collected = await collectState(paths);
      } catch (err) {
        if (err instanceof NoRegistryError) throw new Error(`${err.message}: nothing to export`, { cause: err });
        throw err;
      }
      const at = new Date().toISOString();
      const plain = encodeArchive({ createdAt: at, files: collected.files, knownHosts: collected.knownHosts, settings: collected.settings });
      // checked as an import will check it, before anything is written: an export that would be refused is no backup
      try {
        checkArchive(plain);
      } catch (err) {
        throw new Error(`not exported, an import would refuse it: ${(err as Error).message.replace(/^the export file's contents were refused: /, '')}`, { cause: err });
      }
      const passphrase = await exportPassphrase(opts.passphraseFile, MIN_PASSPHRASE_CHARS);
      const sealed = await encryptState(plain, passphrase);
      await writeFileAtomic(file, sealed, 0o600);
      await writeExportRecord(paths, {
        version: 1,
        at,
        file,
        digest: stateDigest(collected),
        registryChangedAt: collected.changedAt === null ? null : new Date(collected.changedAt).toISOString(),
      });
      const state = await tellTowerd(cmd, (c) => c.call('export.state')).catch(() => null);
      const result = {
        file,
        bytes: sealed.length,
        at,
        hosts: collected.hostCount,
        files: collected.files.length,
        knownHostsLines: collected.knownHosts.length,
        settings: collected.settings !== null,
        skipped: collected.skipped,
        towerd: state ? state.state : null,
      };
      if (opts.json) return print(json(result));
      for (const s of collected.skipped) process.stderr.write(`towerctl: not exported: ${esc(s.path)} (${esc(s.why)})\n`);
      if (collected.knownHosts.length === 0 && collected.hostCount > 0) process.stderr.write('towerctl: warning: no known_hosts line pins any host: an import will not reach them\n');
      print(
        `exported ${collected.hostCount} host${collected.hostCount === 1 ? '' : 's'} (${collected.files.length} files, ${collected.knownHosts.length} known_hosts line${collected.knownHosts.length === 1 ? '' : 's'}${collected.settings !== null ? ', towerd.json' : ''}) to ${esc(file)} (${kib(sealed.length)})\n`,
      );
    });

  backup
    .command('import')
    .argument('<file>', 'an export file written by towerctl backup export')
    .description('Restore the thin client’s own state from an export file onto this machine (a new thin client).')
    .option('--force', 'replace the files of an existing registry with hosts, and an existing towerd.json')
    .option('--passphrase-file <file>', 'read the passphrase from this file (its first line) instead of the terminal')
    .option('--json', 'print what was restored as JSON')
    .addHelpText(
      'after',
      `
Writes ~/.local/tower (every file 0600, folders 0700), adds the export's known_hosts lines that are not already in
~/.ssh/known_hosts (earlier pins of the same addresses are removed, other lines kept), writes ~/.config/tower/towerd.json only when there is none (or with --force), and puts the
registry's Include at the top of ~/.ssh/config. Refuses a machine whose registry already names hosts unless
--force. A wrong passphrase, or a file whose contents are not what an export holds (a path outside
~/.local/tower, a link, an oversized file), is refused before anything is written. A running towerd reloads
and connects to every host; otherwise start it.

Examples:
  $ towerctl backup import /media/usb/tower-state.age
  Passphrase of the export:
  imported 3 hosts (router, web, work): 13 files, 3 known_hosts lines added, towerd.json written
  towerd is not running: start it (towerd, or systemctl --user start towerd) to connect to the hosts`,
    )
    .action(async (fileArg: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ force?: boolean; passphraseFile?: string; json?: boolean }>();
      const { registryHasHosts, restoreState, writeExportRecord } = await import('../../daemon/shared/export/disk.js');
      const { checkArchive, stateDigest } = await import('../../daemon/shared/export/archive.js');
      const { decryptState } = await import('../../daemon/shared/export/crypto.js');
      const paths = resolvePaths();
      const file = resolve(fileArg);
      const st = await lstat(file).catch((err: Error) => {
        throw new UsageError(`cannot read ${file}: ${err.message}`);
      });
      if (!st.isFile()) throw new UsageError(`${file} is not a regular file`);
      if (st.size > MAX_EXPORT_FILE_BYTES) throw new UsageError(`${file} is larger than an export can be (${MAX_EXPORT_FILE_BYTES} bytes)`);
      if (!opts.force && (await registryHasHosts(paths))) throw new Error(`${paths.registry} already names hosts: not replaced (pass --force to replace its files with the export's)`);
      const passphrase = opts.passphraseFile ? await passphraseFromFile(opts.passphraseFile) : await askHidden('Passphrase of the export: ', '--passphrase-file FILE');
      const archive = checkArchive(await decryptState(await readFile(file), passphrase));
      const report = await restoreState(paths, archive, { force: opts.force ?? false });
      await writeExportRecord(paths, { version: 1, at: archive.createdAt, file, digest: stateDigest(report.written), registryChangedAt: null, importedAt: new Date().toISOString() });
      const reloaded = await tellTowerd(cmd, async (c) => {
        const r = await c.call('daemon.reload');
        await c.call('export.state').catch(() => undefined);
        return r;
      }).catch((err: Error) => ({ error: err.message }));
      if (opts.json) return print(json({ file, ...report, written: undefined, towerd: reloaded === null ? 'not running' : 'error' in reloaded ? `reload failed: ${reloaded.error}` : 'reloaded' }));
      print(
        `imported ${report.hosts.length} host${report.hosts.length === 1 ? '' : 's'}${report.hosts.length ? ` (${report.hosts.map((h) => esc(h)).join(', ')})` : ''}: ${report.files} files, ` +
          `${report.knownHostsAdded} known_hosts line${report.knownHostsAdded === 1 ? '' : 's'} added${report.knownHostsPresent ? ` (${report.knownHostsPresent} already there)` : ''}${report.knownHostsReplaced ? `, ${report.knownHostsReplaced} earlier pin${report.knownHostsReplaced === 1 ? '' : 's'} of these addresses removed` : ''}` +
          `${report.settings === 'written' ? ', towerd.json written' : report.settings === 'kept' ? ', towerd.json kept (pass --force to replace it)' : ''}\n`,
      );
      if (reloaded === null) print('towerd is not running: start it (towerd, or systemctl --user start towerd) to connect to the hosts\n');
      else if ('error' in reloaded) process.stderr.write(`towerctl: the files are in place but towerd did not reload: ${esc(reloaded.error)}; run towerctl daemon reload\n`);
      else print(`towerd reloaded: ${reloaded.registry.hostCount} hosts\n`);
    });
}
