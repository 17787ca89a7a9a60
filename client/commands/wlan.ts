import { Option, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ErrorCode, ExitCode } from '../../protocol/errors.js';
import { checkWpaPassphrase, wpaPsk } from '../../daemon/shared/wpa.js';
import { UsageError, print, withClient } from '../context.js';
import { escapeControls as esc, json, table } from '../render.js';
import { RemoteError } from '../rpc.js';

const AFTER = `
Changes the router's Wi-Fi network: writes its wpa_supplicant.conf (wlan.confPath; the SSID and the WPA PSK
derived here from the passphrase, never the passphrase itself; or an open network), keeping the previous file
beside it as wpa_supplicant.conf.tower-prev; restarts its Wi-Fi (wlan.restart: rc-service wpa_supplicant restart);
then waits up to --timeout seconds (default 30) for a way out: a default route on wlan0 and a TCP connect from
the router to wlan.checkTarget (dl-cdn.alpinelinux.org:443). Only then is the previous file removed. Without a way
out the previous settings are put back and Wi-Fi restarted again.

The passphrase is read from the first line of --password-file ("-": stdin), never from the command line.
--status shows the network the router is on and its signal.

Exit status: 0 when the change has its way out (or for --status); 4 when it had none and was rolled back, or the
router is not connected; 2 for a bad SSID or passphrase; 1 when towerd refused.

Examples:
  $ towerctl wlan router --ssid "Home Net" --password-file ~/.config/tower/wifi-pass
  $ towerctl wlan router --ssid CafeOpen --open --timeout 60
  $ towerctl wlan router --status`;

function readPassphrase(file: string): string {
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(resolve(file), 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the Wi-Fi passphrase from ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const line = text.slice(0, 4096).split('\n')[0]!.replace(/\r$/, '');
  if (!line) throw new UsageError(`${file} is empty; its first line is the Wi-Fi passphrase`);
  const problem = checkWpaPassphrase(line);
  if (problem) throw new UsageError(`--password-file: ${problem}`);
  return line;
}

interface WlanOptions {
  ssid?: string;
  passwordFile?: string;
  open?: boolean;
  timeout?: string;
  status?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  const wlan = program.command('wlan').description('The router’s Wi-Fi.');
  wlan
    .command('router')
    .description('Change the router’s Wi-Fi network (rolled back unless it gives the router a way out), or show it with --status.')
    .option('--ssid <ssid>', 'the network’s name (1–32 bytes)')
    .addOption(new Option('--password-file <file>', 'a file whose first line is the WPA passphrase ("-": stdin)').conflicts('open'))
    .addOption(new Option('--open', 'an open network (no passphrase)').conflicts('passwordFile'))
    .option('--timeout <seconds>', 'how long the router may take to get its way out (5–600)', '30')
    .addOption(new Option('--status', 'show the network the router is on and its signal').conflicts(['ssid', 'passwordFile', 'open']))
    .option('--json', 'print the result as JSON')
    .addHelpText('after', AFTER)
    .action(async (opts: WlanOptions, cmd: Command) => {
      try {
        await action(opts, cmd);
      } catch (err) {
        // the router could not be changed or asked: a remote failure, not towerd refusing
        if (!(err instanceof RemoteError) || (err.code !== ErrorCode.WlanFailed && err.code !== ErrorCode.HostUnavailable)) throw err;
        process.stderr.write(`towerctl: ${esc(err.message, true)}\n`);
        process.exitCode = ExitCode.RemoteFailure;
      }
    });
}

async function action(opts: WlanOptions, cmd: Command): Promise<void> {
  if (opts.status) {
    const st = await withClient(cmd, (c) => c.call('wlan.status'));
    if (opts.json) return print(json(st));
    const dash = (v: string | number | null, unit = '') => (v === null ? '-' : `${esc(String(v))}${unit}`);
    print(
      table(
        ['FIELD', 'VALUE'],
        [
          ['network', dash(st.ssid)],
          ['state', dash(st.state)],
          ['signal', dash(st.signalDbm, ' dBm')],
          ['frequency', dash(st.frequencyMhz, ' MHz')],
          ['link speed', dash(st.linkSpeedMbps, ' Mb/s')],
          ['address', dash(st.ip)],
          ['interface', esc(st.interface)],
        ],
      ),
    );
    if (st.unproven) print(`an earlier change was never proven: the previous settings are still kept beside the file on ${st.host}\n`);
    return;
  }
  if (opts.ssid === undefined) throw new UsageError('give --ssid (and --password-file or --open), or --status');
  if (!opts.open && opts.passwordFile === undefined) throw new UsageError('give --password-file FILE for a WPA network, or --open for an open one');
  const bytes = Buffer.byteLength(opts.ssid, 'utf8');
  if (bytes < 1 || bytes > 32) throw new UsageError('--ssid: an SSID has 1 to 32 bytes');
  if (/\p{Cc}/u.test(opts.ssid)) throw new UsageError('--ssid: no control characters');
  const timeoutS = Number(opts.timeout);
  if (!Number.isInteger(timeoutS) || timeoutS < 5 || timeoutS > 600) throw new UsageError('--timeout takes whole seconds from 5 to 600');
  const psk = opts.open ? null : wpaPsk(readPassphrase(opts.passwordFile!), opts.ssid);
  if (!opts.json) process.stderr.write(`router: writing the Wi-Fi settings for ${esc(opts.ssid)}, restarting Wi-Fi, waiting up to ${timeoutS} s for a way out…\n`);
  const r = await withClient(cmd, (c) => c.call('wlan.set', { ssid: opts.ssid!, psk, timeoutS }));
  if (opts.json) print(json(r));
  else if (r.ok) print(`${esc(r.message)}\n`);
  else process.stderr.write(`towerctl: ${esc(r.message)}\n`);
  process.exitCode = r.ok ? ExitCode.Ok : ExitCode.RemoteFailure;
}
