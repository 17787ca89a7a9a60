import { accessSync, constants, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import type { DoctorCheck, Params } from '../../../protocol/index.js';
import type { Core } from '../../core/feature.js';
import type { BackupPort, ClockPort, PackagesPort, SoundPort } from '../../core/ports.js';
import { TowerError } from '../../core/errors.js';
import { runCaptured } from '../../core/exec/run.js';
import { noPinnedKey, pinnedKeys } from '../../core/ssh/hostkey.js';
import { TOOLS_PROBE, needsFor, parseTools } from './needs.js';

export interface DoctorDeps {
  core: Core;
  packages: PackagesPort;
  sound: SoundPort;
  clock: ClockPort;
  /** backup sets per host: a host with none is named, restic is looked for where one runs */
  backup?: BackupPort;
}

type Env = NonNullable<Params<'doctor.run'>['env']>;
const TC = 'thinclient';
/** The PATH provisioning's helpers (xz, mtools) run with: provision/tool.ts. */
const TOOL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const ok = (scope: string, check: string, detail: string): DoctorCheck => ({ scope, check, status: 'ok', detail, fix: '' });
const warn = (scope: string, check: string, detail: string, fix: string): DoctorCheck => ({ scope, check, status: 'warn', detail, fix });
const fail = (scope: string, check: string, detail: string, fix: string): DoctorCheck => ({ scope, check, status: 'fail', detail, fix });

/** Where `name` would run from on this PATH, as spawn looks it up. */
export function which(name: string, path: string | undefined): string | undefined {
  const candidates = isAbsolute(name) ? [name] : (path ?? '').split(delimiter).filter((d) => isAbsolute(d)).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

function isSocket(p: string): boolean {
  try {
    return statSync(p).isSocket();
  } catch {
    return false;
  }
}

function tcpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function thinClient(d: DoctorDeps, env: Env): Promise<DoctorCheck[]> {
  const s = d.core.settings();
  const path = process.env.PATH;
  const out: DoctorCheck[] = [];
  const tool = (name: string, what: string, pkg: string, missing: (detail: string, fix: string) => DoctorCheck, p = path) => {
    const at = which(name, p);
    out.push(at ? ok(TC, name, `${at} (${what})`) : missing(`${name} is not on towerd's PATH: ${what} cannot work`, `install ${pkg} on the thin client (towerd's PATH: ${p ?? ''})`));
  };
  const viewer = s.desktop.viewer[0] ?? '';
  tool(viewer, 'the viewer of every app', 'tigervnc-viewer (Debian) / tigervnc (Alpine), or set desktop.viewer', (a, b) => fail(TC, viewer, a, b));
  tool('xdotool', 'the viewer window’s class for sway rules', 'xdotool', (a, b) => warn(TC, 'xdotool', a, b));
  if (s.desktop.fastResize) tool('xev', 'the fast resize', 'x11-utils (Debian) / xev (Alpine)', (a, b) => warn(TC, 'xev', a, b));
  for (const w of ['wl-copy', 'wl-paste']) tool(w, 'the Wayland clipboard', 'wl-clipboard', (a, b) => warn(TC, w, a, b));
  for (const [t, pkg] of [['xz', 'xz-utils (Debian) / xz (Alpine)'], ['mcopy', 'mtools']] as const) tool(t, 'provisioning', pkg, (a, b) => warn(TC, t, a, b), TOOL_PATH);

  // PulseAudio: where the hosts' sound forwards go (desktop.soundServer)
  const soundOn = s.desktop.sound === 'on' || Object.values(s.desktop.hosts).some((h) => h.sound === 'on');
  const server = s.desktop.soundServer;
  if (!soundOn) out.push(ok(TC, 'pulseaudio', 'sound is off for every host'));
  else if (server.startsWith('tcp:')) {
    const port = Number(server.slice(server.lastIndexOf(':') + 1));
    out.push((await tcpAnswers(port)) ? ok(TC, 'pulseaudio', `127.0.0.1:${port} answers`) : warn(TC, 'pulseaudio', `nothing answers on 127.0.0.1:${port}`, 'start PulseAudio (or pipewire-pulse) with a native TCP listener there, or set desktop.soundServer'));
  } else {
    const sock = server === 'auto' ? `${process.env.XDG_RUNTIME_DIR && isAbsolute(process.env.XDG_RUNTIME_DIR) ? process.env.XDG_RUNTIME_DIR : `/run/user/${process.getuid?.() ?? 0}`}/pulse/native` : server.replace(/^unix:/, '');
    out.push(isSocket(sock) ? ok(TC, 'pulseaudio', sock) : warn(TC, 'pulseaudio', `no PulseAudio socket at ${sock}: hosts' sound is down`, 'start PulseAudio or pipewire-pulse in your session, or set desktop.soundServer'));
  }

  // the session wl-copy and wl-paste talk to: towerctl's, as clip sends it
  const wl = env.WAYLAND_DISPLAY ?? process.env.WAYLAND_DISPLAY;
  const wlDir = env.XDG_RUNTIME_DIR ?? process.env.XDG_RUNTIME_DIR;
  const wlSock = wl && (isAbsolute(wl) ? wl : wlDir ? join(wlDir, wl) : undefined);
  if (s.desktop.clipboard === 'off' && Object.values(s.desktop.hosts).every((h) => h.clipboard !== 'explicit' && h.clipboard !== 'auto')) out.push(ok(TC, 'wayland', 'the clipboard is off for every host'));
  else if (wlSock && isSocket(wlSock)) out.push(ok(TC, 'wayland', wlSock));
  else out.push(warn(TC, 'wayland', wlSock ? `no Wayland socket at ${wlSock}` : 'WAYLAND_DISPLAY is not set: no Wayland session here', 'run towerctl in your Wayland session (sway) for towerctl clip'));

  const sway = env.SWAYSOCK ?? process.env.SWAYSOCK;
  if (sway && isSocket(sway)) out.push(ok(TC, 'sway', sway));
  else out.push(warn(TC, 'sway', sway ? `no sway socket at ${sway}` : 'SWAYSOCK is not set: no sway session here', 'run towerctl under sway for `clip --focused` and the window rules (`towerctl sway rules`)'));

  // only the owner may talk to towerd: the socket 0600 in a 0700 folder of this user
  try {
    const sock = statSync(d.core.socketPath);
    const dir = statSync(dirname(d.core.socketPath));
    const uid = process.getuid?.();
    const bad = [
      (sock.mode & 0o077) !== 0 ? `the socket is ${(sock.mode & 0o777).toString(8)}` : '',
      (dir.mode & 0o077) !== 0 ? `its folder is ${(dir.mode & 0o777).toString(8)}` : '',
      uid !== undefined && (sock.uid !== uid || dir.uid !== uid) ? 'not owned by towerd’s user' : '',
    ].filter(Boolean);
    out.push(bad.length ? fail(TC, 'socket', `${d.core.socketPath}: ${bad.join(', ')}`, 'other users can reach towerd: restart towerd (it creates the folder 0700 and the socket 0600)') : ok(TC, 'socket', `${d.core.socketPath} 0600 in a 0700 folder`));
  } catch (err) {
    out.push(fail(TC, 'socket', `cannot stat ${d.core.socketPath}: ${(err as Error).message}`, 'restart towerd'));
  }

  const port = s.ssh.port;
  for (const h of d.core.registry.list()) {
    const pinned = await pinnedKeys(d.core.paths.knownHosts, h.ip, h.name, port);
    out.push(pinned.trusted.size ? ok(TC, `pinned key ${h.name}`, `${pinned.trusted.size} key${pinned.trusted.size === 1 ? '' : 's'} for ${pinned.pinnedAs}`) : fail(TC, `pinned key ${h.name}`, noPinnedKey(pinned), `pin ${h.name}'s host key under ${pinned.pinnedAs} in ${d.core.paths.knownHosts} (towerctl provision does it)`));
  }
  return out;
}

/** `df -P` lines (busybox's and GNU's): available KiB and use per mount point. */
export function parseDf(stdout: string): Map<string, { availKiB: number; usedPct: number }> {
  const out = new Map<string, { availKiB: number; usedPct: number }>();
  for (const l of stdout.split('\n').slice(1, 20)) {
    const f = l.trim().split(/\s+/);
    if (f.length < 6) continue;
    const [avail, cap, mount] = [f[3]!, f[4]!, f.slice(5).join(' ')];
    if (!/^[0-9]{1,18}$/.test(avail) || !/^[0-9]{1,3}%$/.test(cap) || mount.length > 256) continue;
    out.set(mount, { availKiB: Number(avail), usedPct: Number(cap.slice(0, -1)) });
  }
  return out;
}

const MiB = 1024;

async function oneHost(d: DoctorDeps, name: string): Promise<DoctorCheck[]> {
  const host = d.core.registry.get(name)!;
  const info = d.core.hostInfo(host);
  const out: DoctorCheck[] = [];
  const backupSets = d.backup?.sets(name) ?? 0;
  if (d.backup && host.role !== 'router')
    out.push(
      backupSets > 0
        ? ok(name, 'backup', `${backupSets} backup set${backupSets === 1 ? '' : 's'}${info.backup?.stale ? ', stale: no backup within maxAgeHours' : ''}`)
        : warn(name, 'backup', `no backup set backs up ${name}`, `add one to towerd.json backup.sets (host ${name}, a storage host and folder), then towerctl daemon reload`),
    );
  if (info.state !== 'online') {
    const why = info.lastError ? `: ${info.lastError}` : '';
    const fix =
      info.state === 'hostkey-mismatch' ? `check the key pinned for ${host.ip} in known_hosts, then towerctl host reconnect ${name}`
      : info.state === 'auth-failed' ? `the host refuses ~/.local/tower/hosts/${name}/id_ed25519: put its public key in the host's authorized_keys`
      : info.state === 'unsupervised' ? 'towerd does not supervise hosts (--no-supervise or "supervise": false)'
      : `check ${name}'s power and its cable to the ${host.role === 'offline' ? 'offline' : 'online'} network, then towerctl host reconnect ${name}`;
    out.push(fail(name, 'connection', `${info.state}${why}`, fix));
    return out;
  }
  out.push(ok(name, 'connection', `online, ${info.rttMs === null ? '?' : info.rttMs.toFixed(1)} ms`));
  const s = d.core.connected(name);
  const apps = host.role !== 'router';

  const needs = needsFor(backupSets);
  const ask = () => runCaptured(s, ['sh', '-c', `${TOOLS_PROBE}; echo --; df -P / /tmp 2>/dev/null; echo ---`, 'sh', ...(apps ? needs.map((n) => n.tool) : [])], 15_000, 64 * 1024);
  // complete when the last line came: the exit status alone is not always there (core/exec/run.ts)
  let probe = await ask();
  if (!probe.stdout.endsWith('\n---\n')) probe = await ask();
  const [toolsOut = '', dfOut = ''] = `\n${probe.stdout}`.split('\n--\n');
  if (!probe.stdout.endsWith('\n---\n')) out.push(fail(name, 'host tools', 'no answer from the host', `towerctl host reconnect ${name}`));
  else if (apps) {
    const tools = parseTools(toolsOut, needs);
    const missing = tools.filter((t) => !t.present);
    if (missing.length === 0) out.push(ok(name, 'host tools', `${tools.length} present: ${tools.map((t) => t.tool).join(', ')}`));
    for (const t of missing) {
      const row = t.required ? fail : warn;
      out.push(row(name, t.tool, `${t.tool} is missing on ${name} (${t.for})`, `towerctl host setup ${name} (installs ${t.package})`));
    }
  }
  const df = parseDf(dfOut);
  for (const mount of ['/', '/tmp']) {
    const v = df.get(mount);
    const check = `space ${mount}`;
    if (!v) out.push(warn(name, check, `df -P gave nothing readable for ${mount}`, `towerctl exec ${name} -- df -P ${mount}`));
    else {
      const detail = `${(v.availKiB / MiB).toFixed(0)} MiB free (${v.usedPct}% used)`;
      if (v.availKiB < 32 * MiB) out.push(fail(name, check, detail, `free space on ${name}'s ${mount}: apk and apps need room there`));
      else if (v.availKiB < 256 * MiB || v.usedPct >= 95) out.push(warn(name, check, detail, `free space on ${name}'s ${mount} soon`));
      else out.push(ok(name, check, detail));
    }
  }

  if (apps) {
    const sound = d.sound.state(name);
    if (sound === 'down') out.push(warn(name, 'sound', `the host's listener is down${d.sound.error(name) ? `: ${d.sound.error(name)}` : ''}`, 'is PulseAudio running on the thin client? `towerctl clip session` says why'));
    else out.push(ok(name, 'sound', sound === 'on' ? 'listener on the host’s 127.0.0.1:4713' : 'off for this host (desktop.sound)'));
  }

  try {
    const c = await d.clock.measure(name);
    const known = d.clock.clock(name);
    const max = d.core.settings().clock.maxOffsetMs;
    const keeps = known?.source && known.source !== 'none' ? `; ${known.source} keeps it` : '';
    const set = known?.lastSet ? `; set ${known.lastSet.at} (${(known.lastSet.beforeMs / 1000).toFixed(3)} s before${known.lastSet.afterMs === null ? '' : `, ${(known.lastSet.afterMs / 1000).toFixed(3)} s after`}${known.lastSet.error ? `, failed: ${known.lastSet.error}` : ''})` : '';
    const detail = `${c.offsetMs >= 0 ? '+' : ''}${(c.offsetMs / 1000).toFixed(3)} s ± ${(c.boundMs / 1000).toFixed(3)} s (round trip ${c.rttMs.toFixed(1)} ms)${keeps}${set}`;
    // warn only when even the nearest end of the bounds is off by more than clock.maxOffsetMs
    if (Math.abs(c.offsetMs) - c.boundMs > max) {
      const fix =
        known?.policy === 'set'
          ? `towerd sets ${name}'s clock at its next measurement (clock.everyMs), or now: towerctl clock ${name} --sync`
          : `${known?.reason ?? 'towerd leaves this clock alone'}: fix ${name}'s time service, or set "clock": {"hosts": {"${name}": {"set": true}}} in towerd.json`;
      out.push(warn(name, 'clock', detail, fix));
    } else out.push(ok(name, 'clock', detail));
  } catch (err) {
    out.push(warn(name, 'clock', `cannot read the host's clock: ${(err as Error).message}`, `towerctl exec ${name} -- date`));
  }

  out.push(await repositories(d, name, host.role === 'offline'));
  return out;
}

/** apk's own refresh of its indexes, through the relay for an offline host: each failing repository is a WARNING line. */
async function repositories(d: DoctorDeps, name: string, relayed: boolean): Promise<DoctorCheck> {
  const check = 'apk repositories';
  const via = relayed ? ' through the package relay' : '';
  let run;
  try {
    run = await d.packages.open(name);
  } catch (err) {
    return fail(name, check, (err as Error).message, relayed ? 'the router must be connected: the relay goes out through it' : `check packages.privilege in towerd.json`);
  }
  try {
    const argv = [...run.argv('upgrade', [], { progress: false }), '--update-cache', '--simulate'];
    let r = await runCaptured(run.session, argv, 60_000, 256 * 1024);
    // a status lost with the channel's close (core/exec/run.ts) is asked once more
    if (r.code === null && run.session.connection) r = await runCaptured(run.session, argv, 60_000, 256 * 1024);
    const warnings = r.stderr.split('\n').filter((l) => /^(WARNING|ERROR):/.test(l)).map((l) => l.slice(0, 300));
    if (r.code !== 0 || warnings.length) {
      const detail = warnings.length ? warnings.join('; ') : run.failure('apk', r).message;
      const way = relayed ? ' and packages.relay.allow (towerctl relay shows what was refused)' : d.core.registry.get(name)?.role === 'router' ? ' and its uplink' : ' and its way out through the router';
      return fail(name, check, detail, `check /etc/apk/repositories on ${name}${way}`);
    }
    return ok(name, check, `indexes refreshed${via}`);
  } finally {
    await run.close();
  }
}

export async function doctor(d: DoctorDeps, params: Params<'doctor.run'>): Promise<DoctorCheck[]> {
  const names = params.hosts?.length ? params.hosts : d.core.registry.list().map((h) => h.name);
  for (const n of names) if (!d.core.registry.get(n)) throw new TowerError('HostNotFound', `no host named ${n}`);
  const checks = await thinClient(d, params.env ?? {});
  // hosts one after another: each takes a few session slots and, offline, the router's relay
  for (const n of names) {
    try {
      checks.push(...(await oneHost(d, n)));
    } catch (err) {
      checks.push(fail(n, 'checks', (err as Error).message, `towerctl host reconnect ${n}`));
    }
  }
  return checks;
}
