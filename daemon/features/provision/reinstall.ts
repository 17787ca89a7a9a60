import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod/mini';
import type { Params, ReinstallInfo, ReprovisionPlan, ReprovisionRunResult } from '../../../protocol/index.js';
import type { AppsPort, PackagesPort } from '../../core/ports.js';
import { TowerError } from '../../core/errors.js';
import { runCaptured } from '../../core/exec/run.js';
import { keysFor } from '../../core/registry/knownhosts.js';
import { RegistryError } from '../../core/registry/registry.js';
import { parseTowerEnv, serializeTowerEnv } from '../../core/registry/towerenv.js';
import type { HostSession } from '../../core/ssh/session.js';
import type { Settings } from '../../core/settings.js';
import { hostBootTarget, writeToHost } from './onhost.js';
import { exists, readIfExists, writeFileAtomic } from '../../core/util/fs.js';
import { hostDir } from '../../shared/paths.js';
import { inspectImage } from './image.js';
import { ProvisionError, progressReporter, writeBootMedia, type ProvisionDeps } from './job.js';
import type { WriteResult } from './write.js';
import { KEYFILE_NAME, reinstallBootFiles, upgradeEnv } from './material.js';
import { TargetRefusedError, checkTarget, type CheckedTarget } from './target.js';

/** hosts/NAME/reinstall: the host was given new media and its saved world is not restored yet. */
export const REINSTALL_MARKER = 'reinstall';
const BOOT_ID_RE = /^[A-Za-z0-9-]{1,64}$/;

const Marker = z.object({
  since: z.iso.datetime(),
  target: z.string().check(z.maxLength(4096)),
  /** the host's boot id when the media was written while it was up: the old system, whose connection is not "the first on the new one" */
  bootId: z.nullable(z.string().check(z.regex(BOOT_ID_RE))),
});
type Marker = z.infer<typeof Marker>;


export interface ReinstallDeps extends ProvisionDeps {
  apps: Pick<AppsPort, 'running'>;
  packages: Pick<PackagesPort, 'restoreWorld'>;
  /** the host's session if it is connected now (throws otherwise) */
  connected(name: string): HostSession;
  hostChanged(name: string): void;
}

/** What tells this boot of the host from the next (reprovision.bootIdCommand; Linux's boot_id), null if it cannot say. */
async function bootId(s: HostSession, settings: Settings): Promise<string | null> {
  const r = await runCaptured(s, settings.reprovision.bootIdCommand, 10_000, 4096);
  const id = r.stdout.trim();
  return r.code === 0 && BOOT_ID_RE.test(id) ? id : null;
}

/** Everything reprovision.check promises, with the checked target and what goes on the media. Changes nothing. */
export async function planReprovision(
  deps: ReinstallDeps,
  p: Params<'reprovision.check'>,
): Promise<{ plan: ReprovisionPlan; target: CheckedTarget; env: Record<string, string>; dir: string }> {
  const status = deps.registry.getStatus();
  if (!status.ok) throw new RegistryError('RegistryInvalid', `the registry on disk is invalid; fix it first: ${status.error ?? ''}`);
  const host = deps.registry.get(p.name);
  if (!host) throw new RegistryError('HostNotFound', `no host named ${p.name}; a new host is made with towerctl provision`);
  const appsRunning = deps.apps.running(p.name);
  if (appsRunning > 0 && !p.force)
    throw new TowerError('HostBusy', `${appsRunning} app${appsRunning === 1 ? '' : 's'} run${appsRunning === 1 ? 's' : ''} on ${p.name}: close ${appsRunning === 1 ? 'it' : 'them'} first (towerctl apps ${p.name}), or pass --force`);
  const dir = hostDir(deps.paths, p.name);
  const present = await readdir(dir).catch(() => [] as string[]);
  const { files, hostKeys } = reinstallBootFiles(present);
  const lacking = [
    ...(present.includes('tower.env') ? [] : ['tower.env']),
    ...(present.includes(KEYFILE_NAME) ? [] : [`${KEYFILE_NAME} (the LUKS key of its /home)`]),
    ...(hostKeys.includes('ssh_host_ed25519_key') ? [] : ['ssh_host_ed25519_key and .pub (its own host key)']),
  ];
  if (lacking.length)
    throw new TowerError(
      'IdentityMissing',
      `${p.name} cannot be reinstalled with its identity: ${dir} has no ${lacking.join(', ')}. Hosts made by towerctl provision (or TowerOS) have them; ` +
        `a host added with host add is reinstalled with towerctl provision ${p.name} --force (new keys).`,
    );
  const saved = parseTowerEnv(await readFile(join(dir, 'tower.env'), 'utf8'));
  const publicKey = (await readFile(`${host.identityFile}.pub`, 'utf8').catch(() => undefined)) ?? saved.PUBLIC_KEY;
  if (!publicKey) throw new TowerError('IdentityMissing', `${p.name} has no ${host.identityFile}.pub and no PUBLIC_KEY in its tower.env: towerd would not be let in`);
  const image = await inspectImage(p.image);
  let target: CheckedTarget;
  if (p.target.kind === 'host') {
    let s: HostSession;
    try {
      s = deps.connected(p.name);
    } catch (err) {
      throw new TowerError('HostUnavailable', `--on-host writes ${p.name}'s boot device over its connection, and ${p.name} is not connected: ${(err as Error).message}`);
    }
    target = await hostBootTarget(s, p.target.path, deps.settings().reprovision.bootMounts, image.imageBytes);
  } else {
    target = await checkTarget(p.target, { force: p.force, imagePath: p.image, imageBytes: image.imageBytes });
  }
  const env = upgradeEnv(saved, { name: host.name, role: host.role, ip: host.ip, user: host.user, color: host.color.code, publicKey }, image.towerosVersion);
  const pubs = await Promise.all(hostKeys.map(async (f) => (await readFile(join(dir, `${f}.pub`), 'utf8')).trim()));
  const warnings: string[] = [];
  const kh = (await readIfExists(deps.paths.knownHosts)) ?? '';
  const trusted = keysFor(kh, host.ip).trusted;
  if (!pubs.some((k) => trusted.has(k.split(/\s+/)[1] ?? '')))
    warnings.push(`none of the host keys in ${dir} is pinned for ${host.ip} in ${deps.paths.knownHosts}: towerd will refuse the reinstalled host (hostkey-mismatch)`);
  const world = await exists(join(dir, 'world'));
  if (!world) warnings.push(`${p.name} has no saved world (${join(dir, 'world')}): no packages will be restored`);
  if (!deps.supervised()) warnings.push(`towerd does not supervise hosts (--no-supervise): it will not see ${p.name} come up nor restore its packages`);
  if (appsRunning > 0) warnings.push(`${appsRunning} app(s) run on ${p.name}: they end when it boots the new system`);
  const plan: ReprovisionPlan = {
    name: host.name,
    role: host.role,
    ip: host.ip,
    image,
    target: { kind: target.kind, path: target.path, name: target.name, description: target.description, sizeBytes: target.sizeBytes, removable: target.removable, exists: target.exists, fingerprint: target.fingerprint },
    appsRunning,
    hostKeys: pubs,
    files,
    world,
    warnings,
  };
  return { plan, target, env, dir };
}

/**
 * reprovision.run: check again, write and verify the image, put the host's own boot files on it (tower.env for an
 * upgrade), then mark the host so that its first connection on the new system restores its saved world. A failure
 * leaves the host as it was (and removes a target file it created); nothing in known_hosts or the registry changes.
 */
export async function runReprovision(deps: ReinstallDeps, p: Params<'reprovision.run'>, signal: AbortSignal, markWaiting: (name: string, m: Marker) => void): Promise<ReprovisionRunResult> {
  const { plan, target, env, dir } = await planReprovision(deps, p);
  if (p.targetFingerprint !== undefined && p.targetFingerprint !== plan.target.fingerprint)
    throw new TargetRefusedError(`${plan.target.path} is not the ${plan.target.kind} that was checked (was the card swapped?); check and confirm again`);
  const jobId = randomBytes(6).toString('hex');
  const report = progressReporter(deps, { id: jobId, host: p.name, target: target.path, kind: 'reprovision' });
  deps.log.info({ host: p.name, image: plan.image.path, format: plan.image.format, target: target.path, targetKind: target.kind, job: jobId, force: p.force }, 'reinstalling');
  // the old system, if it is up now: its connection is not the first one on the new system
  let up: HostSession | undefined;
  try {
    up = deps.connected(p.name);
  } catch {
    up = undefined;
  }
  const id = up ? await bootId(up, deps.settings()).catch(() => null) : null;
  const work = await mkdtemp(join(tmpdir(), 'tower-reinstall-'));
  try {
    // tower.env for the upgrade goes from a private folder of its own: the host folder keeps the one of provision
    await writeFileAtomic(join(work, 'tower.env'), serializeTowerEnv(env), 0o600);
    const paths = plan.files.map((f) => (f === 'tower.env' ? join(work, f) : join(dir, f)));
    let written: WriteResult;
    if (target.kind === 'host') {
      // the media are made here (image, then boot files, as for a card), then streamed to the host's boot device
      const local = await checkTarget({ kind: 'file', path: join(work, 'media.img') }, { force: false, imagePath: p.image, imageBytes: plan.image.imageBytes });
      const made = await writeBootMedia(plan.image, local, paths, { force: false, signal, report, last: false });
      const s = deps.connected(p.name);
      const started = performance.now();
      const sent = await writeToHost(s, deps.settings().packages.privilege, local.path, made.bytes, target.path, {
        signal,
        onProgress: (phase, done) => report(phase, done, made.bytes),
      });
      const ms = Math.round(performance.now() - started);
      written = { bytes: made.bytes, sha256: sent.sha256, verified: true, ms, bytesPerSecond: Math.round(made.bytes / Math.max(ms / 1000, 0.001)), verifiedBy: 'file' };
    } else {
      written = await writeBootMedia(plan.image, target, paths, { force: p.force, signal, report });
    }
    const marker: Marker = { since: new Date().toISOString(), target: target.kind === 'host' ? `${p.name}:${target.path}` : target.path, bootId: id };
    await writeFileAtomic(join(dir, REINSTALL_MARKER), JSON.stringify(marker) + '\n', 0o600);
    markWaiting(p.name, marker);
    deps.log.info({ host: p.name, job: jobId, bytes: written.bytes, ms: written.ms, sha256: written.sha256, verifiedBy: written.verifiedBy, files: plan.files.length, bootId: id }, 'reinstall media written and verified');
    if (target.kind === 'host') {
      report('done', written.bytes, written.bytes, `verified by SHA-256 on ${p.name}; rebooting it`);
      const cmd = deps.settings().reprovision.rebootCommand;
      // the connection may end before the command's status comes back: that is the reboot
      const r = await runCaptured(deps.connected(p.name), cmd, 15_000).catch((err: unknown) => ({ code: null, stderr: (err as Error).message }));
      deps.log.info({ host: p.name, command: cmd, code: r.code, stderr: r.stderr.slice(0, 300) }, 'reboot requested');
      if (r.code !== 0 && r.code !== null) plan.warnings.push(`the reboot command (${cmd.join(' ')}) exited with ${r.code}: reboot ${p.name} yourself; its packages are restored on its first connection after that`);
    }
    return {
      host: deps.info(p.name),
      hostKeys: plan.hostKeys,
      files: plan.files,
      written: { bytes: written.bytes, sha256: written.sha256, verified: written.verified, ms: written.ms, bytesPerSecond: written.bytesPerSecond },
      supervised: deps.supervised(),
      world: plan.world,
      warnings: plan.warnings,
    };
  } catch (err) {
    const why = signal.aborted ? 'interrupted' : (err as Error).message;
    report('failed', 0, null, why);
    deps.log.warn({ host: p.name, job: jobId, error: why }, 'reinstall failed; the host is unchanged');
    if (target.kind === 'file' && !target.exists) await rm(target.path, { force: true }).catch(() => undefined);
    if (err instanceof TargetRefusedError) throw new TargetRefusedError(`${err.message}; nothing was written and ${p.name} is unchanged`);
    if (target.kind === 'host')
      throw new ProvisionError(`${why}; ${p.name}'s boot device ${target.path} may hold a partial image: do not reboot ${p.name}, run the same command again`);
    throw new ProvisionError(`${why}; ${p.name} is unchanged${target.kind === 'device' ? ` and ${target.path} may hold a partial image` : ''}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Reinstalled hosts until their saved world is back: loaded from their markers (so a towerd restart in between
 * changes nothing), restored on the first connection whose boot id is not the old system's.
 */
type Entry = ReinstallInfo & { bootId: string | null; retry: boolean; attempts: number };

/** apk failures after which a restore is given up (towerctl install --world is still there): a router that was away is the usual cause. */
const MAX_APK_ATTEMPTS = 3;

export class Reinstalls {
  private readonly hosts = new Map<string, Entry>();
  private readonly running = new Set<string>();

  constructor(private readonly deps: Pick<ReinstallDeps, 'paths' | 'log' | 'packages' | 'connected' | 'hostChanged' | 'settings'>) {}

  /** Read a host's marker from its folder (a bad one is logged and ignored). */
  async load(name: string): Promise<void> {
    const file = join(hostDir(this.deps.paths, name), REINSTALL_MARKER);
    const text = await readIfExists(file).catch(() => undefined);
    if (text === undefined) return;
    let m: Marker;
    try {
      m = Marker.parse(JSON.parse(text.slice(0, 16_384)));
    } catch (err) {
      this.deps.log.warn({ host: name, file, error: (err as Error).message }, 'the reinstall marker does not parse; ignored');
      return;
    }
    this.mark(name, m);
  }

  mark(name: string, m: Marker): void {
    this.hosts.set(name, { state: 'waiting', since: m.since, target: m.target, world: null, error: null, bootId: m.bootId, retry: true, attempts: 0 });
    this.deps.hostChanged(name);
  }

  forget(name: string): void {
    this.hosts.delete(name);
  }

  info(name: string): ReinstallInfo | undefined {
    const r = this.hosts.get(name);
    if (!r) return undefined;
    return { state: r.state, since: r.since, target: r.target, world: r.world, error: r.error };
  }

  connectionChanged(name: string, online: boolean): void {
    if (!online) return;
    this.attempt(name);
    // the router back: offline hosts whose restore found no relay try again over the connection they have
    if (name === 'router')
      for (const [other, r] of this.hosts) if (other !== name && r.state !== 'done' && r.error !== null && this.isConnected(other)) this.attempt(other);
  }

  private isConnected(name: string): boolean {
    try {
      this.deps.connected(name);
      return true;
    } catch {
      return false;
    }
  }

  private attempt(name: string): void {
    const r = this.hosts.get(name);
    if (!r || !r.retry || r.state === 'done' || this.running.has(name)) return;
    this.running.add(name);
    void this.restore(name, r).finally(() => this.running.delete(name));
  }

  private async restore(name: string, r: Entry): Promise<void> {
    const { log } = this.deps;
    const set = (next: Partial<Entry>) => {
      if (this.hosts.get(name) !== r) return;
      Object.assign(r, next);
      this.deps.hostChanged(name);
    };
    try {
      const s = this.deps.connected(name);
      if (r.bootId !== null && (await bootId(s, this.deps.settings())) === r.bootId) {
        log.info({ host: name }, 'connected to the system that was running when the new media were written; waiting for the new one');
        return;
      }
      log.info({ host: name }, 'first connection after the reinstall: restoring its saved world');
      set({ state: 'restoring', error: null });
      const dir = hostDir(this.deps.paths, name);
      if (!(await exists(join(dir, 'world')))) {
        log.info({ host: name }, 'reinstalled; no saved world to restore');
        await rm(join(dir, REINSTALL_MARKER), { force: true });
        set({ state: 'done', retry: false });
        return;
      }
      const world = await this.deps.packages.restoreWorld(name);
      const ok = world.code === 0 || (world.code === null && world.missing.length === 0);
      log[ok ? 'info' : 'warn'](
        { host: name, added: ok ? world.missing : [], missing: world.missing, present: world.present.length, extra: world.extra, relayed: world.relayed, code: world.code, error: world.error },
        ok ? 'saved world restored after the reinstall' : 'the saved world could not be restored after the reinstall',
      );
      // apk failed: most often the relay had no router; tried again a few times, on the next connection or when the router is back
      const attempts = r.attempts + (ok ? 0 : 1);
      const final = ok || attempts >= MAX_APK_ATTEMPTS;
      if (final) await rm(join(dir, REINSTALL_MARKER), { force: true });
      const again = final ? `given up after ${attempts} tries: towerctl install ${name} --world tries again` : `tried again on the next connection or when the router is back (or: towerctl install ${name} --world)`;
      set({ state: ok ? 'done' : 'failed', world, retry: !final, attempts, error: ok ? null : `${world.error ?? 'apk did not finish'}; ${again}` });
    } catch (err) {
      const message = (err as Error).message.slice(0, 1000);
      log.warn({ host: name, error: message }, 'the saved world could not be restored after the reinstall; tried again on the next connection');
      // still waiting: the marker stays, and so does a towerctl reprovision that waits for the outcome
      set({ state: 'waiting', error: `${message}; tried again on the next connection (or: towerctl install ${name} --world)` });
    }
  }
}
