import { Option, type Command } from 'commander';
import { ExitCode } from '../../protocol/errors.js';
import { TOWER_VERSION } from '../../protocol/version.js';
import { confirmTyped } from '../confirm-typed.js';
import { UsageError, print, withClient } from '../context.js';
import type { ProvisionOptions, ReprovisionOptions } from '../provision-run.js';
import { escapeControls as esc, hostColor, json } from '../render.js';

const PROVISION_HELP = `
What it does, in order:
  1. checks the name, the address the host gets, the image (it must have a FAT boot partition) and the target:
     a device must be a whole, removable block device that nothing has mounted and that is not the system disk;
     --force accepts a non-removable device or an existing file, never a mounted device or the system disk
  2. asks you to type the device name before wiping it (or --yes)
  3. towerd generates in ~/.local/tower/hosts/NAME/: the client key pair (id_ed25519), the host's own SSH host
     keys (ed25519, ecdsa, rsa), crypto_keyfile.bin (2 KiB, the LUKS key) and tower.env; assigns the address,
     adds "Host NAME" to ~/.local/tower/config and pins the host keys in ~/.ssh/known_hosts: towerd will accept
     exactly those keys from the host, with no trust on first use
  4. writes the image (raw, or .xz decompressed on the fly) with a progress bar, reads it back and compares
     SHA-256, then puts tower.env, crypto_keyfile.bin and the host keys on the image's FAT boot partition
     (with mtools, without mounting it)
  5. waits until the host answers on SSH with its pinned key: towerd shows it "provisioning", then "online"

The password of the host's user (and root) is random (16 bytes, printed once on stderr) unless --password-file
gives one; only its sha512-crypt hash is written, to tower.env and the boot partition. The Wi-Fi passphrase of
the router is turned into its WPA PSK here and never stored. Prefer --wlan-password-file: a --wlan-password on
the command line can be seen by other users while towerctl runs.

If anything fails after step 3 (or you press Ctrl-C), towerd removes the host again.

Exit status: 0 the host is up (or written, with --no-wait); 1 refused or failed (the message says why; nothing is
registered); 2 usage error or not confirmed; 3 towerd not running; 4 the host did not come up in time (hints follow).
With --setup, once the host is up, what Tower needs there is installed as by towerctl host setup; its exit status
(apk's) is then the command's.

Examples:
  $ towerctl provision office --offline --image toweros-host-0.7.0-20240105.img.xz --device /dev/sdb
  $ towerctl provision router --router --image host.img.xz --device /dev/mmcblk0 \\
        --wlan-ssid 'Home' --wlan-password-file ~/wifi.txt
  $ towerctl provision web --online --image host.img --to-file /tmp/web.img --no-wait
  $ towerctl provision office --offline --image host.img.xz --device /dev/sdb --force --yes --timeout 900`;

export function register(program: Command): void {
  program
    .command('provision')
    .description('Make a new host: generate its keys and settings, write a host image onto a card (or a file), wait for it to come up.')
    .argument('<name>', 'the new host: 1–15 of a-z, 0-9 and inner hyphens; "router" is the router')
    .addOption(new Option('--online', 'on the online network (192.168.2.0/24 by default)').conflicts(['offline', 'router']))
    .addOption(new Option('--offline', 'on the offline network (192.168.3.0/24 by default)').conflicts(['online', 'router']))
    .addOption(new Option('--router', 'the router (name must be "router"); needs --wlan-ssid and a passphrase').conflicts(['online', 'offline']))
    .requiredOption('--image <file>', 'host image: raw (.img) or xz-compressed (.img.xz); building images is not Tower’s job')
    .addOption(new Option('--device <dev>', 'write to this whole removable block device, e.g. /dev/sdb or /dev/mmcblk0').conflicts('toFile'))
    .addOption(new Option('--to-file <file>', 'write a ready image to this file instead (created 0600: it holds the host’s keys)').conflicts('device'))
    .option('--ip <address>', 'a specific address (default: the lowest free from .200)')
    .option('--user <name>', 'login user on the host (default: your user name)')
    .option('--key <file>', 'copy this unencrypted OpenSSH ed25519 private key instead of generating one')
    .option('--color <code>', 'ANSI colour code from TowerOS’s list, e.g. 31 (default: next in order)')
    .option('--password-file <file>', 'the host password is the first line of FILE (default: a random one, printed once)')
    .option('--wlan-ssid <ssid>', 'router: the Wi-Fi network it connects to')
    .option('--wlan-password <passphrase>', 'router: the Wi-Fi passphrase (8–63 characters; visible in ps: prefer the file)')
    .option('--wlan-password-file <file>', 'router: the Wi-Fi passphrase is the first line of FILE')
    .option('--timezone <zone>', 'Area/City (default: this machine’s)')
    .option('--keymap <layout[:variant]>', 'keyboard, e.g. us or fr:fr-azerty (default: this machine’s)')
    .option('--lang <locale>', 'e.g. en_US.UTF-8 (default: this machine’s LANG)')
    .option('--force', 'replace an existing host of that name, overwrite an existing file, accept a non-removable device')
    .option('-y, --yes', 'do not ask before wiping (required when stdin is not a terminal)')
    .option('--no-wait', 'do not wait for the host to come up')
    .option('--setup', 'once the host is up, install what Tower needs there (towerctl host setup)')
    .option('--timeout <seconds>', 'how long to wait for the host (0: no limit)', '600')
    .option('--json', 'print the result as JSON (progress goes to stderr: a bar on a terminal, JSON lines otherwise)')
    .addHelpText('after', PROVISION_HELP)
    .action(async (name: string, opts: ProvisionOptions, cmd: Command) => {
      const run = await import('../provision-run.js');
      try {
        await run.provision(name, opts, cmd);
      } catch (err) {
        if (!(err instanceof run.ExitError)) throw err;
        process.stderr.write(`towerctl: ${esc(err.message, true)}\n`);
        process.exitCode = err.code;
      }
    });

  program
    .command('reprovision')
    .description('Reinstall a host keeping its identity: new boot media with its own host keys, LUKS key, address and user; /home survives; its saved packages come back.')
    .argument('<host>', 'a host made by towerctl provision (or TowerOS)')
    .requiredOption('--image <file>', 'host image: raw (.img) or xz-compressed (.img.xz)')
    .addOption(new Option('--device <dev>', 'write to this whole removable block device, e.g. /dev/sdb').conflicts('toFile'))
    .addOption(new Option('--to-file <file>', 'write a ready image to this file instead (created 0600: it holds the host’s keys)').conflicts(['device', 'onHost']))
    .addOption(new Option('--on-host', 'write the image onto the host’s own boot device over its connection, then reboot it').conflicts(['device', 'toFile']))
    .option('--boot-device <dev>', 'with --on-host: the boot device on the host (default: the disk holding its boot partition mount)')
    .option('--force', 'reinstall even while apps run on the host; overwrite an existing file, accept a non-removable device')
    .option('-y, --yes', 'do not ask before wiping (required when stdin is not a terminal)')
    .option('--no-wait', 'do not wait for the host to come back and its packages to be restored')
    .option('--timeout <seconds>', 'how long to wait (0: no limit)', '600')
    .option('--json', 'print the result as JSON (progress goes to stderr)')
    .addHelpText(
      'after',
      `
What it does, in order:
  1. checks that ~/.local/tower/hosts/HOST/ holds the host's own keys (ssh_host_*_key), crypto_keyfile.bin and
     tower.env, that no app runs on it (--force reinstalls anyway), and the image and the target as provision does
  2. asks you to type the device name before wiping it (or --yes)
  3. writes the image with a progress bar, reads it back and compares SHA-256, then puts on its FAT boot partition
     the host's tower.env with INSTALLATION_TYPE=upgrade (and no PASSWORD_HASH: the host's users stay as they are),
     crypto_keyfile.bin and the host keys, all as they were: the installer formats root only and opens /home with
     the same key. Nothing changes in known_hosts or ~/.local/tower/config
     With --on-host the media are made the same way in a private temporary file here, then streamed over the
     host's connection into "dd of=DEV" under packages.privilege, read back there (sha256sum) and compared, and
     the host is rebooted (reprovision.rebootCommand); the boot device is --boot-device, or the disk holding the
     first of reprovision.bootMounts that is mounted on the host; the disk of its root file system is refused
  4. waits until the host answers on the new system with the key it always had, then towerd restores its saved
     world (~/.local/tower/hosts/HOST/world) as "towerctl install HOST --world" does (offline hosts through the
     package relay) and the difference is printed. If the host was up while the media were written, the restore
     waits for its next boot (its boot id changes). Without waiting (--no-wait), towerd still restores it.

If anything fails while writing (or you press Ctrl-C), the host is unchanged and a file created for it is removed.

Exit status: 0 the host is back with its packages (or written, with --no-wait); 1 refused or failed; 2 usage or not
confirmed; 3 towerd not running; 4 the host did not come back in time, answered with another key, or its packages
could not be restored (towerctl install HOST --world tries again).

Examples:
  $ towerctl reprovision office --image toweros-host-0.8.0-20250101.img.xz --device /dev/sdb
  $ towerctl reprovision office --image host.img --to-file /tmp/office.img --yes --no-wait
  $ towerctl reprovision office --image toweros-host-0.8.0-20250101.img.xz --on-host --boot-device /dev/sda`,
    )
    .action(async (name: string, opts: ReprovisionOptions, cmd: Command) => {
      const run = await import('../provision-run.js');
      try {
        await run.reprovision(name, opts, cmd);
      } catch (err) {
        if (!(err instanceof run.ExitError)) throw err;
        process.stderr.write(`towerctl: ${esc(err.message, true)}\n`);
        process.exitCode = err.code;
      }
    });

  program
    .command('deprovision')
    .description('Remove a host for good: power it off if it is up, then remove its config block, its known_hosts lines and its folder.')
    .argument('<host>', 'host name')
    .option('-y, --yes', 'do not ask you to type the name (required when stdin is not a terminal)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Removes the "Host NAME" block from ~/.local/tower/config, only that host's lines from ~/.ssh/known_hosts, and
~/.local/tower/hosts/NAME/ with every key in it. A host that is connected is powered off first (towerd.json's
poweroffCommand, default "sudo poweroff"); if that fails the host is removed anyway and the exit status is 4.

Examples:
  $ towerctl deprovision office
  $ towerctl deprovision office --yes --json`,
    )
    .action(async (name: string, opts: { yes?: boolean; json?: boolean }, cmd: Command) => {
      await withClient(cmd, async (c) => {
        const h = await c.call('host.get', { name });
        if (!opts.yes) {
          const ok = await confirmTyped(
            `Deprovision ${esc(h.name)} (${h.role}, ${esc(h.ip)}, ${h.state}): ${h.state === 'online' ? 'power it off, ' : ''}remove its config block, its known_hosts lines and its folder with its keys.`,
            h.name,
          );
          if (!ok) throw new UsageError('not confirmed; nothing was changed');
        }
        let poweroff: { attempted: boolean; ok: boolean; message: string } = { attempted: false, ok: true, message: `not connected (${h.state})` };
        if (h.state === 'online') {
          const [r] = (await c.call('host.poweroff', { names: [name] })).results;
          poweroff = { attempted: true, ok: r?.ok ?? false, message: r?.message ?? 'no answer' };
        }
        const r = await c.call('host.remove', { name, keepFiles: false });
        if (opts.json) print(json({ name, poweroff, knownHostsLinesRemoved: r.knownHostsLinesRemoved, filesRemoved: r.filesRemoved }));
        else
          print(
            `deprovisioned ${name}: ${poweroff.attempted ? (poweroff.ok ? 'powered off' : `power-off FAILED (${esc(poweroff.message)})`) : esc(poweroff.message)}, ` +
              `config block, ${r.knownHostsLinesRemoved} known_hosts line(s), its folder\n`,
          );
        if (!poweroff.ok) process.exitCode = ExitCode.RemoteFailure;
      });
    });

  program
    .command('version')
    .description('Versions of towerctl, towerd and each host’s TowerOS (TOWEROS_VERSION from its tower.env).')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      `
Host versions come from each host's tower.env on this machine, as written when it was provisioned (not asked
from the host).

Example:
  $ towerctl version
  towerctl  0.1.0
  towerd    0.1.0 (protocol 1)
  router    v0.7.0
  office    v0.7.0`,
    )
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      let info, list;
      try {
        [info, list] = await withClient(cmd, (c) => Promise.all([c.call('daemon.info'), c.call('host.list')]));
      } catch (err) {
        // towerctl's own version is known without towerd
        if (!opts.json) print(`towerctl  ${TOWER_VERSION}\n`);
        throw err;
      }
      if (opts.json) {
        print(json({ towerctl: TOWER_VERSION, towerd: info.version, protocolVersion: info.protocolVersion, hosts: Object.fromEntries(list.hosts.map((h) => [h.name, h.version])) }));
        return;
      }
      const width = Math.max(8, ...list.hosts.map((h) => h.name.length)) + 2;
      let out = `${'towerctl'.padEnd(width)}${TOWER_VERSION}\n${'towerd'.padEnd(width)}${esc(info.version)} (protocol ${info.protocolVersion})\n`;
      for (const h of list.hosts) out += `${hostColor(h)}${' '.repeat(Math.max(0, width - h.name.length))}${esc(h.version ?? '-')}\n`;
      print(out);
    });
}
