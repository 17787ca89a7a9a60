// The work of `towerctl provision`, loaded only when that command runs: it needs node:crypto (the password hash,
// the WPA PSK, key fingerprints), which no other command loads and which costs ~2 ms of every towerctl start.
import { createHash } from 'node:crypto';
// node:fs, not node:fs/promises: the latter is not loaded at towerctl's start otherwise
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ExitCode } from '../protocol/errors.js';
import type { Event, HostInfo, ProvisionPlan, ProvisionRunResult, ReprovisionPlan, ReprovisionRunResult, Role } from '../protocol/index.js';
import { hashPassword, randomPassword } from '../daemon/shared/sha512crypt.js';
import { checkWpaPassphrase, wpaPsk } from '../daemon/shared/wpa.js';
import { confirmTyped } from './confirm-typed.js';
import { UsageError, print, socketPath } from './context.js';
import { confirm } from './prompt.js';
import { ProgressView, bytesText } from './progress.js';
import { TowerClient } from './rpc.js';
import { setupHost, type SetupResult } from './commands/setup.js';
import { renderWorldDiff } from './commands/packages.js';
import { escapeControls as esc, hostColor, json, stateText } from './render.js';

export interface ProvisionOptions {
  online?: boolean;
  offline?: boolean;
  router?: boolean;
  image: string;
  device?: string;
  toFile?: string;
  ip?: string;
  user?: string;
  key?: string;
  color?: string;
  passwordFile?: string;
  wlanSsid?: string;
  wlanPassword?: string;
  wlanPasswordFile?: string;
  timezone?: string;
  keymap?: string;
  lang?: string;
  force?: boolean;
  yes?: boolean;
  wait: boolean;
  /** after the first connection, install what Tower needs there (towerctl host setup) */
  setup?: boolean;
  timeout: string;
  json?: boolean;
}

/** A failure after which towerctl exits with a given status and message (a host that did not come up: 4). */
export class ExitError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** `ssh-keygen -l` style: SHA256:base64 of the key blob, no padding. */
export function fingerprint(publicKey: string): string {
  const [type, blob] = publicKey.trim().split(/\s+/);
  const digest = createHash('sha256').update(Buffer.from(blob ?? '', 'base64')).digest('base64').replace(/=+$/, '');
  const kind = type === 'ssh-ed25519' ? 'ED25519' : type?.startsWith('ecdsa-') ? 'ECDSA' : type === 'ssh-rsa' ? 'RSA' : (type ?? '?');
  return `${kind} SHA256:${digest}`;
}

/** `LAYOUT` or `LAYOUT:VARIANT`, e.g. `fr:fr-azerty`. */
function parseKeymap(s: string): { layout: string; variant?: string } {
  const [layout, variant, extra] = s.split(':');
  if (!layout || extra !== undefined || !/^[a-z]{2,5}$/.test(layout) || (variant !== undefined && !/^[A-Za-z0-9_-]{2,32}$/.test(variant)))
    throw new UsageError('--keymap takes LAYOUT or LAYOUT:VARIANT, e.g. us or fr:fr-azerty');
  return variant === undefined ? { layout } : { layout, variant };
}

function firstLine(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${what} from ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const line = text.split('\n')[0]!.replace(/\r$/, '');
  if (!line) throw new UsageError(`${path} is empty; the first line is the ${what}`);
  return line;
}

function describePlan(plan: ProvisionPlan, user: string | undefined): string {
  const img = plan.image;
  const imgSize = img.imageBytes === null ? 'size unknown' : bytesText(img.imageBytes);
  const version = img.towerosVersion ? `, TowerOS ${img.towerosVersion}` : '';
  let out = `provision ${plan.name} (${plan.role}) at ${plan.ip}${user ? `, user ${user}` : ''}${plan.replaces ? ', replacing the existing host' : ''}\n`;
  out += `  image   ${img.path} (${img.format}, ${imgSize}${version}; boot partition at ${img.bootPartition.offsetBytes} bytes, ${img.bootPartition.table})\n`;
  out += `  target  ${plan.target.path}: ${plan.target.description}\n`;
  // a device's description is its vendor and model strings, which the device itself supplies
  return esc(out, true);
}

function hints(name: string, plan: ProvisionPlan, last: HostInfo | undefined, timeoutS: number): string {
  const net = plan.role === 'offline' ? 'offline' : 'online';
  const state = last ? `${last.state}${last.lastError ? `: ${last.lastError}` : ''}` : 'unknown';
  const first =
    last?.state === 'hostkey-mismatch'
      ? `what answers at ${plan.ip} is not ${name}: ${last.lastError ?? 'its host key is not the one pinned'}. Tower does not trust it (towerd will not retry until known_hosts changes or: towerctl host reconnect ${name}).`
      : `${name} did not answer on SSH within ${timeoutS} s (last state: ${state}).`;
  return [
    first,
    'Check:',
    `  - the boot media is in ${name} and ${name} is powered on; the first boot installs the system and can take up to 10 minutes`,
    `  - ${name}'s Ethernet cable is in the ${net} network's switch or port (${plan.network}) and its link lights are on`,
    `  - this thin client has ${plan.thinClientIp} on that network (ip -br addr)${plan.thinClientAddressPresent ? '' : ': towerd did NOT find it when provisioning'}`,
    `  - ${name} should answer at ${plan.ip}:22 (towerctl status; ssh ${name})`,
    `  - the key it presents must be one pinned in ~/.ssh/known_hosts for ${plan.ip}: "hostkey-mismatch" means media written for another host`,
    `towerd keeps trying; "towerctl watch" shows ${name} when it comes up.`,
  ].join('\n');
}

interface Waiter {
  latest: HostInfo | undefined;
  onEvent(e: Event): void;
  wait(timeoutMs: number): Promise<HostInfo | undefined>;
  /** stop waiting now (towerd went away) */
  cancel(): void;
}

/**
 * Follows the host's state events: resolves when `done` says so (by default: online, or hostkey-mismatch, which needs
 * a human), or after the timeout.
 */
function hostWaiter(name: string, onChange: (h: HostInfo) => void, done: (h: HostInfo) => boolean = (h) => h.state === 'online' || h.state === 'hostkey-mismatch'): Waiter {
  let settle: ((h: HostInfo | undefined) => void) | undefined;
  const w: Waiter = {
    latest: undefined,
    onEvent(e) {
      if ((e.type !== 'host.state' && e.type !== 'host.added') || e.host.name !== name) return;
      const prev = w.latest;
      w.latest = e.host;
      if (!prev || prev.state !== e.host.state || prev.lastError !== e.host.lastError) onChange(e.host);
      if (settle && done(e.host)) settle(e.host);
    },
    wait(timeoutMs) {
      if (w.latest && done(w.latest)) return Promise.resolve(w.latest);
      return new Promise((resolvePromise) => {
        const timer = timeoutMs > 0 ? setTimeout(() => resolvePromise(undefined), timeoutMs) : undefined;
        settle = (h) => {
          clearTimeout(timer);
          resolvePromise(h);
        };
      });
    },
    cancel() {
      settle?.(undefined);
    },
  };
  return w;
}

export async function provision(name: string, opts: ProvisionOptions, cmd: Command): Promise<void> {
  const role: Role | undefined = opts.router ? 'router' : opts.online ? 'online' : opts.offline ? 'offline' : undefined;
  if (!role) throw new UsageError('say which network: --online, --offline or --router');
  if (opts.setup && !opts.wait) throw new UsageError('--setup needs the host up: leave out --no-wait');
  if (Boolean(opts.device) === Boolean(opts.toFile)) throw new UsageError('say where the image goes: --device DEV or --to-file FILE');
  const timeoutS = Number(opts.timeout);
  if (!Number.isInteger(timeoutS) || timeoutS < 0) throw new UsageError('--timeout takes whole seconds (0: no limit)');
  let color: number | undefined;
  if (opts.color !== undefined) {
    color = Number(opts.color);
    if (!Number.isInteger(color)) throw new UsageError('--color takes an ANSI colour code such as 31');
  }
  const keyboard = opts.keymap === undefined ? undefined : parseKeymap(opts.keymap);
  if (opts.wlanPassword !== undefined && opts.wlanPasswordFile !== undefined) throw new UsageError('give the Wi-Fi passphrase once: --wlan-password or --wlan-password-file');
  let wlan: { ssid: string; psk: string } | undefined;
  const wlanPass = opts.wlanPasswordFile !== undefined ? firstLine(resolve(opts.wlanPasswordFile), 'Wi-Fi passphrase') : opts.wlanPassword;
  if (role === 'router') {
    if (opts.wlanSsid === undefined || wlanPass === undefined) throw new UsageError('the router shares a Wi-Fi connection: give --wlan-ssid and --wlan-password(-file)');
    const problem = checkWpaPassphrase(wlanPass);
    if (problem) throw new UsageError(`--wlan-password: ${problem}`);
    if (Buffer.byteLength(opts.wlanSsid) < 1 || Buffer.byteLength(opts.wlanSsid) > 32) throw new UsageError('--wlan-ssid: an SSID has 1 to 32 bytes');
    if (/\p{Cc}/u.test(opts.wlanSsid)) throw new UsageError('--wlan-ssid: no control characters');
    wlan = { ssid: opts.wlanSsid, psk: wpaPsk(wlanPass, opts.wlanSsid) };
  } else if (opts.wlanSsid !== undefined || wlanPass !== undefined) {
    throw new UsageError('only the router uses Wi-Fi (--wlan-ssid, --wlan-password)');
  }
  const password = opts.passwordFile !== undefined ? firstLine(resolve(opts.passwordFile), 'password') : undefined;

  const target = opts.device ? { kind: 'device' as const, path: resolve(opts.device) } : { kind: 'file' as const, path: resolve(opts.toFile!) };
  const base = { name, role, ip: opts.ip, image: resolve(opts.image), target, force: opts.force ?? false };
  const client = await TowerClient.connect(socketPath(cmd));
  try {
    const plan = await client.call('provision.check', base);
    const info = opts.json ? process.stderr : process.stdout;
    info.write(describePlan(plan, opts.user));
    for (const w of plan.warnings) process.stderr.write(`warning: ${esc(w)}\n`);
    if (!opts.yes) {
      if (plan.replaces && !(await confirm(`Replace host ${name}? Its keys, address and known_hosts pins are replaced and the old host can no longer be reached.`)))
        throw new UsageError('not confirmed; nothing was changed');
      if (plan.target.kind === 'device') {
        const ok = await confirmTyped(esc(`This erases everything on ${plan.target.path} (${plan.target.description}).`), plan.target.name);
        if (!ok) throw new UsageError('not confirmed; nothing was written');
      } else if (plan.target.exists && !(await confirm(`Overwrite ${esc(plan.target.path)}?`))) {
        throw new UsageError('not confirmed; nothing was written');
      }
    }
    // hashed here: the password itself never reaches towerd, a log or a command line
    const plain = password ?? randomPassword();
    const passwordHash = hashPassword(plain);

    const view = new ProgressView(process.stderr, process.stderr.isTTY ? 'tty' : opts.json ? 'json' : 'lines');
    let finished = false;
    const waiter = hostWaiter(name, (h) => {
      if (!opts.wait || !finished) return;
      process.stderr.write(`${hostColor(h)} ${stateText(h.state)}${h.lastError ? ` (${esc(h.lastError)})` : ''}\n`);
    });
    await client.subscribe(['jobs', 'hosts'], (e) => {
      if (e.type === 'job.progress' && e.job.host === name && e.job.target === plan.target.path && !finished) view.update(e.job);
      waiter.onEvent(e);
    });
    // Ctrl-C: closing the connection makes towerd stop writing and remove the host again
    const onSigint = () => {
      view.end();
      process.stderr.write(finished ? `towerctl: stopped waiting; towerd keeps trying to reach ${name}\n` : `towerctl: interrupted; towerd stops and removes ${name} again\n`);
      client.close();
      process.exit(ExitCode.Interrupted);
    };
    process.on('SIGINT', onSigint);
    let towerdGone = false;
    client.onClose(() => {
      towerdGone = true;
      waiter.cancel();
    });
    let result: ProvisionRunResult;
    try {
      result = await client.call('provision.run', {
        ...base,
        user: opts.user,
        keyFile: opts.key ? resolve(opts.key) : undefined,
        color,
        passwordHash,
        wlan,
        timezone: opts.timezone,
        keyboard,
        lang: opts.lang,
        targetFingerprint: plan.target.fingerprint,
      });
    } finally {
      view.end();
    }
    finished = true;
    const w = result.written;
    const out: string[] = [
      `${hostColor(result.host)}: ${bytesText(w.bytes)} written to ${plan.target.path} in ${(w.ms / 1000).toFixed(1)} s (${bytesText(w.bytesPerSecond)}/s), verified (SHA-256 ${w.sha256.slice(0, 16)}…)`,
      `boot partition: ${result.files.join(', ')}`,
      `host keys pinned for ${result.host.ip}: ${result.hostKeys.map(fingerprint).join(', ')}`,
      `client key: ${result.publicKey}`,
    ];
    if (!opts.json) print(esc(out.join('\n'), true) + '\n');
    if (password === undefined) process.stderr.write(`password of ${esc(result.host.user)}${result.host.user === 'root' ? '' : ' and root'} on ${name}, shown once (Tower keeps only its hash): ${plain}\n`);
    if (!opts.json) print(`Move the ${plan.target.kind === 'device' ? 'card' : 'image'} to ${name}, connect its Ethernet to the ${role === 'offline' ? 'offline' : 'online'} network and power it on.\n`);

    let final = waiter.latest ?? result.host;
    let setup: SetupResult | undefined;
    if (opts.wait && result.supervised) {
      if (final.state !== 'online') process.stderr.write(`waiting for ${name} at ${esc(result.host.ip)}${timeoutS ? ` (up to ${timeoutS} s)` : ''}; Ctrl-C stops waiting, not the host\n`);
      const reached = await waiter.wait(timeoutS * 1000);
      if (towerdGone) throw new ExitError(ExitCode.DaemonUnreachable, `towerd went away while waiting for ${name}; ${name} stays registered: see towerctl status once towerd is back`);
      final = reached ?? waiter.latest ?? final;
      if (!reached || reached.state !== 'online') {
        if (opts.json) print(json({ ...result, host: final }));
        throw new ExitError(ExitCode.RemoteFailure, hints(name, plan, final, timeoutS));
      }
      if (!opts.json) print(`${hostColor(final)} is online at ${esc(final.ip)}${final.rttMs !== null ? ` (${final.rttMs.toFixed(1)} ms)` : ''}: ssh ${name}\n`);
      if (opts.setup && role !== 'router') setup = await setupHost(cmd, name, { json: opts.json });
    } else if (opts.wait && !opts.json) {
      print(`towerd does not supervise hosts, so it cannot tell when ${name} is up; try: ssh ${name}\n`);
    }
    if (opts.json) print(json({ ...result, host: final, ...(setup ? { setup } : {}) }));
    if (setup && setup.code !== 0) throw new ExitError(setup.code, `${name} is up, but its host setup did not finish: towerctl host setup ${name} tries again`);
  } finally {
    client.close();
  }
}

export interface ReprovisionOptions {
  image: string;
  device?: string;
  toFile?: string;
  onHost?: boolean;
  bootDevice?: string;
  force?: boolean;
  yes?: boolean;
  wait: boolean;
  timeout: string;
  json?: boolean;
}

function describeReprovision(plan: ReprovisionPlan): string {
  const img = plan.image;
  const imgSize = img.imageBytes === null ? 'size unknown' : bytesText(img.imageBytes);
  const version = img.towerosVersion ? `, TowerOS ${img.towerosVersion}` : '';
  let out = `reprovision ${plan.name} (${plan.role}) at ${plan.ip}: new media with its own host keys, LUKS key, address and user; /home is kept\n`;
  out += `  image   ${img.path} (${img.format}, ${imgSize}${version}; boot partition at ${img.bootPartition.offsetBytes} bytes, ${img.bootPartition.table})\n`;
  out += `  target  ${plan.target.path}: ${plan.target.description}\n`;
  out += `  world   ${plan.world ? 'its saved package list is restored on its first connection on the new system' : 'none saved: no packages to restore'}\n`;
  return esc(out, true);
}

function reinstallHints(name: string, plan: ReprovisionPlan, last: HostInfo | undefined, timeoutS: number): string {
  if (last?.state === 'hostkey-mismatch')
    return `what answers at ${plan.ip} is not ${name} with the key it always had: ${last.lastError ?? 'its host key is not the one pinned'}. Tower does not trust it.`;
  const state = last ? `${last.state}${last.lastError ? `: ${last.lastError}` : ''}` : 'unknown';
  return [
    `${name} did not come back on the new system within ${timeoutS} s (last state: ${state}; reinstall: ${last?.reinstall?.state ?? 'unknown'}).`,
    `  - the new media are in ${name} and it is powered on; the installer formats root only and can take up to 10 minutes`,
    `  - if ${name} was up while the media were written, its saved world is restored once it has booted them (a new boot)`,
    `towerd keeps waiting: the saved world is restored on ${name}'s first connection on the new system ("towerctl host show ${name}").`,
  ].join('\n');
}

export async function reprovision(name: string, opts: ReprovisionOptions, cmd: Command): Promise<void> {
  if ([opts.device, opts.toFile, opts.onHost].filter(Boolean).length !== 1) throw new UsageError('say where the image goes: --device DEV, --to-file FILE or --on-host');
  if (opts.bootDevice !== undefined && !opts.onHost) throw new UsageError('--boot-device goes with --on-host');
  if (opts.bootDevice !== undefined && !opts.bootDevice.startsWith('/')) throw new UsageError('--boot-device takes an absolute path on the host, e.g. /dev/mmcblk0');
  const timeoutS = Number(opts.timeout);
  if (!Number.isInteger(timeoutS) || timeoutS < 0) throw new UsageError('--timeout takes whole seconds (0: no limit)');
  const target = opts.onHost
    ? { kind: 'host' as const, ...(opts.bootDevice ? { path: opts.bootDevice } : {}) }
    : opts.device
      ? { kind: 'device' as const, path: resolve(opts.device) }
      : { kind: 'file' as const, path: resolve(opts.toFile!) };
  const base = { name, image: resolve(opts.image), target, force: opts.force ?? false };
  const client = await TowerClient.connect(socketPath(cmd));
  try {
    const plan = await client.call('reprovision.check', base);
    const info = opts.json ? process.stderr : process.stdout;
    info.write(describeReprovision(plan));
    for (const w of plan.warnings) process.stderr.write(`warning: ${esc(w)}\n`);
    if (!opts.yes) {
      if (plan.target.kind === 'host') {
        const ok = await confirmTyped(esc(`This overwrites ${plan.target.path} on ${name} (${plan.target.description}) and reboots ${name}.`), name);
        if (!ok) throw new UsageError('not confirmed; nothing was written');
      } else if (plan.target.kind === 'device') {
        const ok = await confirmTyped(esc(`This erases everything on ${plan.target.path} (${plan.target.description}).`), plan.target.name);
        if (!ok) throw new UsageError('not confirmed; nothing was written');
      } else if (plan.target.exists && !(await confirm(`Overwrite ${esc(plan.target.path)}?`))) {
        throw new UsageError('not confirmed; nothing was written');
      }
    }
    const view = new ProgressView(process.stderr, process.stderr.isTTY ? 'tty' : opts.json ? 'json' : 'lines');
    let finished = false;
    /** this run's reinstall (its marker's time), once towerd has written it */
    const run = { since: undefined as string | undefined };
    const waiter = hostWaiter(
      name,
      (h) => {
        if (!opts.wait || !finished || opts.json) return;
        process.stderr.write(`${hostColor(h)} ${stateText(h.state)}${h.reinstall && h.reinstall.since === run.since ? `, reinstall ${h.reinstall.state}` : ''}${h.lastError ? ` (${esc(h.lastError)})` : ''}\n`);
      },
      (h) => h.state === 'hostkey-mismatch' || (run.since !== undefined && h.reinstall?.since === run.since && (h.reinstall.state === 'done' || h.reinstall.state === 'failed')),
    );
    await client.subscribe(['jobs', 'hosts'], (e) => {
      if (e.type === 'job.progress' && e.job.host === name && e.job.target === plan.target.path && !finished) view.update(e.job);
      waiter.onEvent(e);
    });
    const onSigint = () => {
      view.end();
      process.stderr.write(finished ? `towerctl: stopped waiting; towerd restores ${name}'s packages when it comes back\n` : `towerctl: interrupted; towerd stops writing, ${name} is unchanged\n`);
      client.close();
      process.exit(ExitCode.Interrupted);
    };
    process.on('SIGINT', onSigint);
    let towerdGone = false;
    client.onClose(() => {
      towerdGone = true;
      waiter.cancel();
    });
    let result: ReprovisionRunResult;
    try {
      result = await client.call('reprovision.run', { ...base, targetFingerprint: plan.target.fingerprint });
    } finally {
      view.end();
    }
    finished = true;
    run.since = result.host.reinstall?.since;
    const w = result.written;
    if (!opts.json)
      print(
        esc(
          [
            `${result.host.name}: ${bytesText(w.bytes)} written to ${plan.target.kind === 'host' ? `${name}:` : ''}${plan.target.path} in ${(w.ms / 1000).toFixed(1)} s (${bytesText(w.bytesPerSecond)}/s), verified (SHA-256 ${w.sha256.slice(0, 16)}…)`,
            `boot partition: ${result.files.join(', ')} (INSTALLATION_TYPE=upgrade)`,
            `host keys kept, known_hosts unchanged: ${result.hostKeys.map(fingerprint).join(', ')}`,
            plan.target.kind === 'host' ? `${name} is rebooting into the new system.` : `Move the ${plan.target.kind === 'device' ? 'card' : 'image'} to ${name} and power it on.`,
          ].join('\n'),
          true,
        ) + '\n',
      );
    let final = waiter.latest ?? result.host;
    if (opts.wait && result.supervised) {
      process.stderr.write(`waiting for ${name} on the new system${timeoutS ? ` (up to ${timeoutS} s)` : ''}; Ctrl-C stops waiting, not the host\n`);
      const reached = await waiter.wait(timeoutS * 1000);
      if (towerdGone) throw new ExitError(ExitCode.DaemonUnreachable, `towerd went away while waiting for ${name}; it restores ${name}'s packages when both are back`);
      final = reached ?? waiter.latest ?? final;
      const r = final.reinstall;
      if (!reached || reached.state === 'hostkey-mismatch' || !r || r.since !== run.since) {
        if (opts.json) print(json({ ...result, host: final }));
        throw new ExitError(ExitCode.RemoteFailure, reinstallHints(name, plan, final, timeoutS));
      }
      if (opts.json) print(json({ ...result, host: final }));
      else {
        print(`${hostColor(final)} is back at ${esc(final.ip)} with the key it always had\n`);
        if (r.world) print(renderWorldDiff(r.world, { done: r.state === 'done', exact: false }));
      }
      if (r.state === 'failed') throw new ExitError(ExitCode.RemoteFailure, `${name} is back, but its saved world was not restored: ${r.error ?? 'unknown error'}`);
      return;
    }
    if (opts.wait && !opts.json) print(`towerd does not supervise hosts, so it cannot restore ${name}'s packages; once it is up: towerctl install ${name} --world\n`);
    if (opts.json) print(json({ ...result, host: final }));
  } finally {
    client.close();
  }
}
