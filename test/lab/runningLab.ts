// The handle on a running lab. All it knows lives in LabState, which is saved after every change,
// so a handle made by another process (attachLab) acts on the same lab.
import { readFile } from 'node:fs/promises';
import { enterArgv } from './enter.js';
import { baseEnv, cleanUpAfter, run, runOk } from './exec.js';
import { bootHosts, provisionHosts } from './build.js';
import { ipBatch, netnsPath, bridgeOf } from './netns.js';
import { isAlive, waitAllDead } from './proc.js';
import { startSshd, stopSshd } from './sshd.js';
import { saveState } from './state.js';
import { labDownPrefix, removeNamespaces } from './teardown.js';
import { colorFor, netnsName, networkOf, nextFreeIp, validateHostName } from './topology.js';
import { pinKnownHosts, writeTowerConfig } from './towerHome.js';
import type { CutMode, ExecOptions, ExecResult, HostExecOptions, HostState, Lab, LabState } from './types.js';
import { ensureLabUser } from './user.js';
import { ALPINE_PATH } from './profile.js';

export class RunningLab implements Lab {
  constructor(private readonly state: LabState) {}

  get prefix(): string {
    return this.state.prefix;
  }
  get home(): string {
    return this.state.home;
  }
  get workDir(): string {
    return this.state.workDir;
  }
  get tcNetns(): string {
    return this.state.tcNetns;
  }
  get internetNetns(): string {
    return this.state.internetNetns;
  }
  get internetIp(): string {
    return this.state.internetIp;
  }
  get hosts(): HostState[] {
    return this.state.hosts;
  }
  /** The plain state, e.g. for a JSON summary. */
  snapshot(): LabState {
    return structuredClone(this.state);
  }

  host(name: string): HostState {
    const host = this.state.hosts.find((h) => h.name === name);
    if (!host) throw new Error(`lab '${this.prefix}' has no host '${name}' (hosts: ${this.state.hosts.map((h) => h.name).join(', ')})`);
    return host;
  }

  tcSpawnPrefix(): string[] {
    // nsenter with only --net execs the command itself (no fork), so the spawned pid is the command's
    // and signals reach it. The thin client shares the runner's PID and mount namespaces on purpose.
    return ['nsenter', `--net=${netnsPath(this.state.tcNetns)}`, '--'];
  }

  internetSpawnPrefix(): string[] {
    return ['nsenter', `--net=${netnsPath(this.state.internetNetns)}`, '--'];
  }

  execTc(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return run([...this.tcSpawnPrefix(), ...argv], {
      env: { ...process.env, HOME: this.state.home, ...opts.env },
      input: opts.input,
      timeoutMs: opts.timeoutMs,
    });
  }

  execHost(name: string, argv: string[], opts: HostExecOptions = {}): Promise<ExecResult> {
    const host = this.host(name);
    // nsenter -p forks and passes no signals on (pitfall 6), so the command gets a parent-death signal:
    // if the timeout kills nsenter, the command dies too. Before runuser it must be TERM, which runuser relays.
    const wrapper = opts.user
      ? ['setpriv', '--pdeathsig', 'TERM', '--', 'runuser', '-u', opts.user, '--']
      : ['setpriv', '--pdeathsig', 'KILL', '--'];
    const home = opts.user ? this.state.userHome : '/root';
    // The login user gets the host's own PATH (busybox first on the alpine profile); root keeps the machine's,
    // which the lab's own commands rely on.
    const path = opts.user && this.state.profile === 'alpine' && opts.env?.PATH === undefined ? ['/usr/bin/env', `PATH=${ALPINE_PATH}`] : [];
    return run(enterArgv(host.initPid, [...wrapper, ...path, ...argv]), {
      env: baseEnv(home, opts.env),
      input: opts.input,
      timeoutMs: opts.timeoutMs,
    });
  }

  async cut(name: string, mode: CutMode = 'unplug'): Promise<void> {
    const host = this.host(name);
    const line = mode === 'unplug' ? `link set ${name} nomaster` : `link set ${name} down`;
    await ipBatch(this.state.switchNetns, [line], `cutting ${name}`);
    host.cut = mode;
    await saveState(this.state);
  }

  async restore(name: string): Promise<void> {
    const host = this.host(name);
    await ipBatch(this.state.switchNetns, [`link set ${name} master ${bridgeOf(host.role)}`, `link set ${name} up`], `restoring ${name}`);
    host.cut = null;
    await saveState(this.state);
  }

  async stopSshd(name: string): Promise<void> {
    const host = this.host(name);
    if (host.sshdPid > 0) await stopSshd(host.sshdPid);
    host.sshdPid = 0;
    await saveState(this.state);
  }

  async startSshd(name: string): Promise<void> {
    const host = this.host(name);
    if (host.sshdPid > 0 && (await isAlive(host.sshdPid))) return;
    host.sshdPid = await startSshd(host);
    await saveState(this.state);
  }

  async crash(name: string): Promise<void> {
    const host = this.host(name);
    // kill(-1) inside the host's PID namespace reaches every process there except its init and the caller.
    await runOk(enterArgv(host.initPid, ['bash', '-c', 'kill -KILL -1 2>/dev/null; exit 0']), { context: `crashing ${name}` });
    if (host.sshdPid > 0) await waitAllDead([host.sshdPid], 5000);
    host.sshdPid = 0;
    await saveState(this.state);
  }

  async addHost(opts: { name: string; role: 'online' | 'offline' }): Promise<HostState> {
    validateHostName(opts.name);
    if (this.state.hosts.some((h) => h.name === opts.name)) throw new Error(`lab '${this.prefix}' already has a host '${opts.name}'`);
    if (opts.role !== 'online' && opts.role !== 'offline') throw new Error(`addHost: role must be 'online' or 'offline', got '${String(opts.role)}'`);
    const ip = nextFreeIp(opts.role, new Set(this.state.hosts.map((h) => h.ip)));
    const plan = { name: opts.name, role: opts.role, ip, color: colorFor(this.state.hosts.length) };
    const user = await ensureLabUser(this.state.user);
    const ctx = { state: this.state, user };
    try {
      const provisioned = await provisionHosts(ctx, [plan]);
      await writeTowerConfig(this.state.home, [...this.state.hosts, ...provisioned], this.state.user);
      await pinKnownHosts(this.state.home, provisioned.map((h) => ({ ip: h.ip, hostKeyPub: h.keys.hostKeyPub })));
      const [host] = await bootHosts(ctx, provisioned);
      this.state.hosts.push(host!);
      await saveState(this.state);
      return host!;
    } catch (err) {
      // Take the half-built host away again (its processes, its netns and with it the switch port), keep the rest.
      return cleanUpAfter(err, `adding host '${opts.name}'`, async () => {
        await removeNamespaces([netnsName(this.prefix, opts.name)]);
        await writeTowerConfig(this.state.home, this.state.hosts, this.state.user);
      });
    }
  }

  /**
   * Boot a host from the files it was given rather than from keys the lab makes: what a provisioned image's boot
   * partition holds (its host key, the thin client's public key for authorized_keys) at the address its tower.env
   * names. Unlike addHost, nothing of the thin client's (~/.local/tower, known_hosts) is written.
   */
  async bootHost(opts: { name: string; role: 'online' | 'offline'; ip: string; hostKeyFile: string; authorizedKey: string }): Promise<HostState> {
    validateHostName(opts.name);
    if (this.state.hosts.some((h) => h.name === opts.name)) throw new Error(`lab '${this.prefix}' already has a host '${opts.name}'`);
    if (!opts.ip.startsWith(`${networkOf(opts.role).base}.`)) throw new Error(`bootHost: ${opts.ip} is not on the ${opts.role} network`);
    if (this.state.hosts.some((h) => h.ip === opts.ip)) throw new Error(`bootHost: ${opts.ip} is taken in lab '${this.prefix}'`);
    const hostKeyPub = (await readFile(`${opts.hostKeyFile}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
    const user = await ensureLabUser(this.state.user);
    const plan = {
      name: opts.name,
      role: opts.role,
      ip: opts.ip,
      color: colorFor(this.state.hosts.length),
      netns: netnsName(this.prefix, opts.name),
      keys: { identityFile: '', publicKey: opts.authorizedKey.trim(), hostKeyFile: opts.hostKeyFile, hostKeyPub },
    };
    try {
      const [host] = await bootHosts({ state: this.state, user }, [plan]);
      this.state.hosts.push(host!);
      await saveState(this.state);
      return host!;
    } catch (err) {
      return cleanUpAfter(err, `booting host '${opts.name}'`, () => removeNamespaces([netnsName(this.prefix, opts.name)]));
    }
  }

  async down(): Promise<void> {
    await labDownPrefix(this.state.prefix);
  }
}

/** A host's sshd log, as seen from outside the host (inside it is under /run/lab). */
export function sshdLogPath(host: HostState): string {
  return `${host.bootDir}/sshd.log`;
}
