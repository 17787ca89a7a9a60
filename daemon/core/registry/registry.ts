import { EventEmitter } from 'node:events';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { COLORS, HostName, IPv4, type Color, type RegistryStatus, type Role } from '../../../protocol/index.js';
import { expandTilde, hostDir, type Paths } from '../../shared/paths.js';
import type { Settings } from '../settings.js';
import { ensurePrivateDir, exists, readIfExists, writeFileAtomic } from '../util/fs.js';
import { SerialQueue } from '../util/serial.js';
import { allocateIp, checkRequestedIp, networkOf, networkOfIp, routerIp } from './addressing.js';
import { ensureSshInclude } from './include.js';
import { generateEd25519, loadEd25519 } from './keys.js';
import { pinHostKeys, removeHostEntries } from './knownhosts.js';
import { appendHostBlock, parseRegistryConfig, removeHostBlock, renderHostBlock } from './sshconfig.js';
import { TowerEnv, parseTowerEnv, serializeTowerEnv } from './towerenv.js';
import { TowerError } from '../errors.js';
import { compareHosts } from '../../shared/hostorder.js';

/** A host as the registry knows it: everything that is on disk, nothing about the connection. */
export interface Host {
  name: string;
  role: Role;
  ip: string;
  network: string;
  user: string;
  identityFile: string;
  color: Color;
  version: string | null;
  /** provisioned and not reached yet: the marker file hosts/NAME/provisioning exists (cleared on first contact) */
  provisioning?: boolean;
}

/** Marks a host that was provisioned and not reached yet; a file, so that it survives a towerd restart. */
export const PROVISIONING_MARKER = 'provisioning';

/** A failure the caller can act on; `code` maps to a JSON-RPC error. */
export class RegistryError extends TowerError {
  constructor(code: 'HostNotFound' | 'HostExists' | 'NetworkFull' | 'InvalidKey' | 'AddressInUse' | 'RegistryInvalid', message: string) {
    super(code, message);
  }
}

/** What a reload changed; `hosts` is the whole registry after it, in registry order. */
export interface RegistryChange {
  hosts: Host[];
  status: RegistryStatus;
  added: Host[];
  removed: string[];
  updated: Host[];
}

export interface AddHostRequest {
  name: string;
  role: Role;
  ip?: string | undefined;
  user?: string | undefined;
  keyFile?: string | undefined;
  color?: number | undefined;
  /** provisioning: more tower.env keys (PASSWORD_HASH, TIMEZONE, …), written after the ones every host gets */
  env?: Record<string, string> | undefined;
  /** provisioning: more files for the host folder (host keys, crypto_keyfile.bin) */
  files?: { name: string; data: string | Uint8Array; mode: number }[] | undefined;
  /** provisioning: public host keys pinned in known_hosts under the host's address before the host is registered */
  hostKeys?: string[] | undefined;
  /** provisioning: show the host as `provisioning` until towerd first reaches it */
  provisioning?: string | undefined;
  /** replace a host of that name (its block, known_hosts lines and folder go first) */
  replace?: boolean | undefined;
}

interface RegistryEvents {
  changed: [RegistryChange];
}

export function colorFromCode(code: number): Color {
  const c = COLORS.find((x) => x.code === code);
  if (!c) throw new Error(`unknown colour code ${code}`);
  return { code: c.code, name: c.name, hex: c.hex };
}

/**
 * The TowerOS host registry: ~/.local/tower/config plus hosts/NAME/tower.env. Loads are all-or-nothing: an invalid
 * edit on disk leaves the last good registry in use and reports the error in `status`.
 */
export class Registry extends EventEmitter<RegistryEvents> {
  private hosts = new Map<string, Host>();
  private status: RegistryStatus = { ok: true, error: null, loadedAt: null, hostCount: 0 };
  private readonly writes = new SerialQueue();

  constructor(
    private readonly paths: Paths,
    private settings: Settings,
  ) {
    super();
  }

  list(): Host[] {
    return [...this.hosts.values()].sort(compareHosts);
  }

  get(name: string): Host | undefined {
    return this.hosts.get(name);
  }

  getStatus(): RegistryStatus {
    return { ...this.status, hostCount: this.hosts.size };
  }

  setSettings(settings: Settings): void {
    this.settings = settings;
  }

  /** Re-read from disk. Never throws for bad content: that is recorded in status and the last good set is kept. */
  async reload(): Promise<RegistryStatus> {
    return this.writes.run(() => this.reloadNow());
  }

  private async reloadNow(): Promise<RegistryStatus> {
    let next: Map<string, Host>;
    try {
      next = await this.readFromDisk();
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      const changed = this.status.error !== error;
      this.status = { ok: false, error, loadedAt: this.status.loadedAt, hostCount: this.hosts.size };
      if (changed) this.emitChange(this.hosts, { added: [], removed: [], updated: [] });
      return this.getStatus();
    }
    const diff = diffHosts(this.hosts, next);
    const wasBroken = !this.status.ok;
    this.hosts = next;
    this.status = { ok: true, error: null, loadedAt: new Date().toISOString(), hostCount: next.size };
    if (wasBroken || diff.added.length || diff.removed.length || diff.updated.length) this.emitChange(next, diff);
    return this.getStatus();
  }

  private emitChange(hosts: Map<string, Host>, diff: { added: Host[]; removed: string[]; updated: Host[] }): void {
    this.emit('changed', { hosts: [...hosts.values()].sort(compareHosts), status: this.getStatus(), ...diff });
  }

  private async readFromDisk(): Promise<Map<string, Host>> {
    const text = (await readIfExists(this.paths.registry)) ?? '';
    const blocks = parseRegistryConfig(text);
    const out = new Map<string, Host>();
    const byIp = new Map<string, string>();
    for (const b of blocks) {
      const where = `${this.paths.registry}:${b.line}`;
      const name = HostName.safeParse(b.name);
      if (!name.success) throw new Error(`${where}: host name ${JSON.stringify(b.name)}: ${name.error.issues[0]?.message}`);
      if (out.has(b.name)) throw new Error(`${where}: host ${b.name} is defined twice`);
      if (!b.hostName || !IPv4.safeParse(b.hostName).success)
        throw new Error(`${where}: host ${b.name} needs a HostName that is an IPv4 address (got ${JSON.stringify(b.hostName ?? '')})`);
      const other = byIp.get(b.hostName);
      if (other) throw new Error(`${where}: ${b.name} and ${other} have the same address ${b.hostName}`);
      byIp.set(b.hostName, b.name);
      out.set(b.name, await this.hostFromDisk(b.name, b.hostName, b.user, b.identityFile, out.size));
    }
    return out;
  }

  private async hostFromDisk(
    name: string,
    ip: string,
    user: string | undefined,
    identityFile: string | undefined,
    index: number,
  ): Promise<Host> {
    const envPath = join(hostDir(this.paths, name), 'tower.env');
    const text = await readIfExists(envPath);
    let env: TowerEnv = {};
    if (text !== undefined) {
      let raw: Record<string, string>;
      try {
        raw = parseTowerEnv(text);
      } catch (err) {
        throw new Error(`${envPath}: ${(err as Error).message}`, { cause: err });
      }
      const parsed = TowerEnv.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new Error(`${envPath}: ${issue.path.join('.')}: ${issue.message}`);
      }
      env = parsed.data;
    }
    if (env.HOSTNAME !== undefined && env.HOSTNAME !== name)
      throw new Error(`${envPath}: HOSTNAME=${env.HOSTNAME} but the ssh config names this host ${name}`);
    const net = networkOfIp(this.settings, ip);
    let role: Role;
    if (name === 'router') role = 'router';
    else if (env.ONLINE !== undefined) role = env.ONLINE === 'true' ? 'online' : 'offline';
    else if (net) role = net.role;
    else throw new Error(`host ${name}: ${ip} is on neither Tower network and tower.env has no ONLINE key`);
    const expectedRole = role === 'offline' ? 'offline' : 'online';
    if (net && net.role !== expectedRole)
      throw new Error(`host ${name} is ${role} but its address ${ip} is on the ${net.role} network ${net.network}`);
    let color: Color;
    if (env.COLOR !== undefined) {
      const code = Number(env.COLOR);
      if (!COLORS.some((c) => c.code === code)) throw new Error(`${envPath}: COLOR=${env.COLOR} is not a TowerOS colour code`);
      color = colorFromCode(code);
    } else {
      color = colorFromCode(COLORS[index % COLORS.length]!.code);
    }
    return {
      name,
      role,
      ip,
      network: net?.network ?? `${ip}/32`,
      user: user ?? env.USERNAME ?? userInfo().username,
      identityFile: identityFile ? expandTilde(identityFile, this.paths.home) : join(hostDir(this.paths, name), 'id_ed25519'),
      color,
      version: env.TOWEROS_VERSION ?? null,
      provisioning: await exists(join(hostDir(this.paths, name), PROVISIONING_MARKER)),
    };
  }

  add(req: AddHostRequest): Promise<{ host: Host; publicKey: string; generatedKey: boolean }> {
    return this.writes.run(() => this.addNow(req));
  }

  private async addNow(req: AddHostRequest): Promise<{ host: Host; publicKey: string; generatedKey: boolean }> {
    this.assertUsable();
    if ((req.name === 'router') !== (req.role === 'router'))
      throw new RegistryError('RegistryInvalid', 'the router is the host named "router", and only it has the router role');
    const replacing = this.hosts.has(req.name);
    if (replacing && !req.replace) throw new RegistryError('HostExists', `host ${req.name} already exists`);
    const dir = hostDir(this.paths, req.name);
    const ip = this.chooseAddress(req.role, req.ip, replacing ? req.name : undefined);
    const colorCode = req.color ?? COLORS[(this.hosts.size - (replacing ? 1 : 0)) % COLORS.length]!.code;
    if (!COLORS.some((c) => c.code === colorCode)) throw new RegistryError('RegistryInvalid', `unknown colour code ${colorCode}`);
    let keys;
    try {
      keys = req.keyFile ? await loadEd25519(req.keyFile, req.name) : generateEd25519(req.name);
    } catch (err) {
      throw new RegistryError('InvalidKey', (err as Error).message);
    }
    // everything that can refuse has been checked: only now does the old host go (block, known_hosts lines, folder)
    if (replacing) await this.removeNow(req.name, false);
    const user = req.user ?? userInfo().username;
    const plan = networkOf(this.settings, req.role);
    const env: Record<string, string> = {
      HOSTNAME: req.name,
      USERNAME: user,
      PUBLIC_KEY: keys.publicKey.trim(),
      ONLINE: req.role === 'offline' ? 'false' : 'true',
      THIN_CLIENT_IP: plan.thinClientIp,
      TOWER_NETWORK: plan.network,
      STATIC_HOST_IP: ip,
      ROUTER_IP: routerIp(this.settings),
      COLOR: String(colorCode),
      ...req.env,
    };
    await ensurePrivateDir(this.paths.towerDir);
    await ensurePrivateDir(this.paths.hostsDir);
    await mkdir(dir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    await ensurePrivateDir(dir);
    const identityFile = join(dir, 'id_ed25519');
    await writeFileAtomic(identityFile, keys.privateKey, 0o600);
    await writeFileAtomic(`${identityFile}.pub`, keys.publicKey, 0o644);
    await writeFileAtomic(join(dir, 'tower.env'), serializeTowerEnv(env), 0o600);
    for (const f of req.files ?? []) await writeFileAtomic(join(dir, f.name), f.data, f.mode);
    if (req.provisioning !== undefined) await writeFileAtomic(join(dir, PROVISIONING_MARKER), req.provisioning, 0o600);
    // pinned before the host is registered: its first connection attempt already has a key to check against
    if (req.hostKeys?.length) {
      const kh = (await readIfExists(this.paths.knownHosts)) ?? '';
      await writeFileAtomic(this.paths.knownHosts, pinHostKeys(kh, ip, req.hostKeys, [req.name]), 0o600);
    }
    const current = (await readIfExists(this.paths.registry)) ?? '';
    const block = renderHostBlock({ name: req.name, hostName: ip, user, identityFile });
    await writeFileAtomic(this.paths.registry, appendHostBlock(current, block), 0o600);
    await ensureSshInclude(this.paths);
    await this.reloadNow();
    const host = this.hosts.get(req.name);
    if (!host) throw new RegistryError('RegistryInvalid', `host ${req.name} was written but did not load: ${this.status.error ?? ''}`);
    return { host, publicKey: keys.publicKey.trim(), generatedKey: !req.keyFile };
  }

  /**
   * The address a new host would get: `ip` checked against the plan, or the next free one. `replacing` names a host
   * whose address counts as free (it is about to be replaced).
   */
  chooseAddress(role: Role, ip?: string, replacing?: string): string {
    const used = new Set([...this.hosts.values()].filter((h) => h.name !== replacing).map((h) => h.ip));
    if (ip) {
      const problem = checkRequestedIp(this.settings, role, ip, used);
      if (problem) throw new RegistryError(problem.includes('already used') ? 'AddressInUse' : 'RegistryInvalid', problem);
      return ip;
    }
    try {
      return allocateIp(this.settings, role, used);
    } catch (err) {
      throw new RegistryError('NetworkFull', (err as Error).message);
    }
  }

  remove(name: string, keepFiles: boolean): Promise<{ knownHostsLinesRemoved: number; filesRemoved: boolean }> {
    return this.writes.run(() => this.removeNow(name, keepFiles));
  }

  private async removeNow(name: string, keepFiles: boolean): Promise<{ knownHostsLinesRemoved: number; filesRemoved: boolean }> {
    this.assertUsable();
    const host = this.hosts.get(name);
    if (!host) throw new RegistryError('HostNotFound', `no host named ${name}`);
    const current = (await readIfExists(this.paths.registry)) ?? '';
    const next = removeHostBlock(current, name);
    if (next !== null) await writeFileAtomic(this.paths.registry, next, 0o600);
    let removed = 0;
    const kh = await readIfExists(this.paths.knownHosts);
    if (kh !== undefined) {
      const r = removeHostEntries(kh, [host.ip, name]);
      removed = r.removed;
      if (removed > 0) await writeFileAtomic(this.paths.knownHosts, r.text, 0o600);
    }
    if (!keepFiles) await rm(hostDir(this.paths, name), { recursive: true, force: true });
    await this.reloadNow();
    return { knownHostsLinesRemoved: removed, filesRemoved: !keepFiles };
  }

  /** First contact with a provisioned host: it is no longer `provisioning`. */
  clearProvisioning(name: string): Promise<void> {
    return this.writes.run(async () => {
      if (!this.hosts.get(name)?.provisioning) return;
      await rm(join(hostDir(this.paths, name), PROVISIONING_MARKER), { force: true });
      await this.reloadNow();
    });
  }

  /** Writing over a registry whose disk state is invalid would bake the last good copy over a user's edit. */
  private assertUsable(): void {
    if (!this.status.ok)
      throw new RegistryError('RegistryInvalid', `the registry on disk is invalid; fix it first: ${this.status.error ?? ''}`);
  }
}

function diffHosts(prev: Map<string, Host>, next: Map<string, Host>) {
  const added: Host[] = [];
  const updated: Host[] = [];
  const removed: string[] = [];
  for (const [name, h] of next) {
    const p = prev.get(name);
    if (!p) added.push(h);
    else if (JSON.stringify(p) !== JSON.stringify(h)) updated.push(h);
  }
  for (const name of prev.keys()) if (!next.has(name)) removed.push(name);
  return { added, removed, updated };
}
