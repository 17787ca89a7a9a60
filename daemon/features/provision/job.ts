import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import type { Event, ImageInfo, JobInfo, JobPhase, Params, ProvisionPlan, ProvisionRunResult, HostInfo } from '../../../protocol/index.js';
import type { Logger } from '../../core/log.js';
import { hostDir, type Paths } from '../../shared/paths.js';
import { networkOf } from '../../core/registry/addressing.js';
import { RegistryError, type Registry } from '../../core/registry/registry.js';
import type { Settings } from '../../core/settings.js';
import { injectFiles } from './fat.js';
import { inspectImage } from './image.js';
import { thinClientDefaults } from './locale.js';
import { KEYFILE_NAME, bootFiles, makeMaterial } from './material.js';
import { TargetRefusedError, checkTarget, type CheckedTarget } from './target.js';
import { writeImage, type Progress, type WriteResult } from './write.js';
import { TowerError } from '../../core/errors.js';

export interface ProvisionDeps {
  paths: Paths;
  registry: Registry;
  settings(): Settings;
  supervised(): boolean;
  publish(e: Event): void;
  info(name: string): HostInfo;
  log: Logger;
}

/** Provisioning failed after the host was registered; it has been removed again. */
export class ProvisionError extends TowerError {
  constructor(message: string) {
    super('ProvisionFailed', message);
  }
}

function thinClientHas(ip: string): boolean {
  return Object.values(networkInterfaces()).some((list) => list?.some((a) => a.address === ip));
}

/** Everything provision.check promises, and the checked target for provision.run. Changes nothing. */
export async function planProvision(deps: ProvisionDeps, p: Params<'provision.check'>): Promise<{ plan: ProvisionPlan; target: CheckedTarget }> {
  const { registry } = deps;
  const status = registry.getStatus();
  if (!status.ok) throw new RegistryError('RegistryInvalid', `the registry on disk is invalid; fix it first: ${status.error ?? ''}`);
  if ((p.name === 'router') !== (p.role === 'router'))
    throw new RegistryError('RegistryInvalid', 'the router is the host named "router", and only it has the router role');
  const existing = registry.get(p.name);
  if (existing && !p.force)
    throw new RegistryError('HostExists', `host ${p.name} already exists; pass --force to replace it (new keys, address and known_hosts pins)`);
  const ip = registry.chooseAddress(p.role, p.ip, existing ? p.name : undefined);
  const image = await inspectImage(p.image);
  const target = await checkTarget(p.target, { force: p.force, imagePath: p.image, imageBytes: image.imageBytes });
  const net = networkOf(deps.settings(), p.role);
  const present = thinClientHas(net.thinClientIp);
  const warnings: string[] = [];
  if (!present)
    warnings.push(`this machine does not have ${net.thinClientIp}, the thin client’s address on the ${p.role === 'offline' ? 'offline' : 'online'} network ${net.network}: towerd cannot reach ${p.name} until it does`);
  if (p.role === 'online' && !registry.get('router')) warnings.push('there is no router yet: an online host reaches the Internet through the router');
  if (!deps.supervised()) warnings.push(`towerd does not supervise hosts (--no-supervise): it will not see ${p.name} come up`);
  const plan: ProvisionPlan = {
    name: p.name,
    role: p.role,
    ip,
    network: net.network,
    thinClientIp: net.thinClientIp,
    thinClientAddressPresent: present,
    replaces: Boolean(existing),
    supervised: deps.supervised(),
    image,
    target: { kind: target.kind, path: target.path, name: target.name, description: target.description, sizeBytes: target.sizeBytes, removable: target.removable, exists: target.exists, fingerprint: target.fingerprint },
    warnings,
  };
  return { plan, target };
}

/** Publishes job.progress at most every 200 ms, and always on a change of phase. */
export function progressReporter(deps: Pick<ProvisionDeps, 'publish'>, base: Pick<JobInfo, 'id' | 'host' | 'target' | 'kind'>) {
  let last = 0;
  let lastPhase: JobPhase | undefined;
  let rateFrom = { at: performance.now(), bytes: 0, phase: undefined as JobPhase | undefined };
  return (phase: JobPhase, bytesDone: number, bytesTotal: number | null, message: string | null = null) => {
    const now = performance.now();
    if (phase === lastPhase && now - last < 200 && bytesDone !== bytesTotal) return;
    if (rateFrom.phase !== phase) rateFrom = { at: now, bytes: bytesDone, phase };
    const secs = (now - rateFrom.at) / 1000;
    const bytesPerSecond = secs > 0.2 ? Math.round((bytesDone - rateFrom.bytes) / secs) : null;
    last = now;
    lastPhase = phase;
    deps.publish({ type: 'job.progress', topic: 'jobs', job: { ...base, phase, bytesDone, bytesTotal, bytesPerSecond, message } });
  };
}

/**
 * The media of a host, for provision and reprovision alike: the image written to the target and verified, then
 * `files` (their base names) put on its FAT boot partition and read back.
 */
export async function writeBootMedia(
  image: ImageInfo,
  target: CheckedTarget,
  files: string[],
  opts: { force: boolean; signal: AbortSignal; report: ReturnType<typeof progressReporter>; last?: boolean },
): Promise<WriteResult> {
  const { signal, report } = opts;
  const written = await writeImage(image, target, { force: opts.force, signal, onProgress: (pr: Progress) => report(pr.phase, pr.bytesDone, pr.bytesTotal) });
  report('inject', 0, files.length);
  signal.throwIfAborted();
  await injectFiles(target.path, image.bootPartition.offsetBytes, files, target.kind === 'device');
  if (opts.last !== false) report('done', written.bytes, written.bytes, `verified by SHA-256 (${written.verifiedBy})`);
  return written;
}

/**
 * provision.run: check again, register the host with all its material, write and verify the image, put the boot
 * files on its FAT partition. A failure after registering removes the host again (and a target file it created),
 * so a retry starts clean.
 */
export async function runProvision(deps: ProvisionDeps, p: Params<'provision.run'>, signal: AbortSignal): Promise<ProvisionRunResult> {
  const { registry, log } = deps;
  const { plan, target } = await planProvision(deps, p);
  if (p.targetFingerprint !== undefined && p.targetFingerprint !== plan.target.fingerprint)
    throw new TargetRefusedError(`${plan.target.path} is not the ${plan.target.kind} that was checked (was the card swapped?); check and confirm again`);
  const material = makeMaterial({ ...p, towerosVersion: plan.image.towerosVersion }, await thinClientDefaults());
  const jobId = randomBytes(6).toString('hex');
  const report = progressReporter(deps, { id: jobId, host: p.name, target: target.path, kind: 'provision' });
  log.info(
    { host: p.name, role: p.role, ip: plan.ip, image: plan.image.path, format: plan.image.format, target: target.path, targetKind: target.kind, job: jobId, replaces: plan.replaces },
    'provisioning',
  );
  report('register', 0, null);
  const added = await registry.add({
    name: p.name,
    role: p.role,
    ip: plan.ip,
    user: p.user,
    keyFile: p.keyFile,
    color: p.color,
    env: material.env,
    files: [
      ...material.hostKeys.flatMap((k) => [
        { name: k.file, data: k.privateKey, mode: 0o600 },
        { name: `${k.file}.pub`, data: k.publicKey, mode: 0o644 },
      ]),
      { name: KEYFILE_NAME, data: material.keyfile, mode: 0o600 },
    ],
    hostKeys: material.hostKeys.map((k) => k.publicKey),
    provisioning: `${new Date().toISOString()} ${target.path}\n`,
    replace: plan.replaces,
  });
  material.keyfile.fill(0);
  try {
    const dir = hostDir(deps.paths, p.name);
    const files = bootFiles(material.hostKeys);
    const written = await writeBootMedia(plan.image, target, files.map((f) => join(dir, f)), { force: p.force, signal, report });
    log.info(
      { host: p.name, job: jobId, bytes: written.bytes, ms: written.ms, bytesPerSecond: written.bytesPerSecond, sha256: written.sha256, verifiedBy: written.verifiedBy, files: files.length },
      'host image written and verified',
    );
    return {
      host: deps.info(p.name),
      publicKey: added.publicKey,
      hostKeys: material.hostKeys.map((k) => k.publicKey.trim()),
      files,
      written: { bytes: written.bytes, sha256: written.sha256, verified: written.verified, ms: written.ms, bytesPerSecond: written.bytesPerSecond },
      supervised: plan.supervised,
      thinClientAddressPresent: plan.thinClientAddressPresent,
      warnings: plan.warnings,
    };
  } catch (err) {
    const why = signal.aborted ? 'interrupted' : (err as Error).message;
    report('failed', 0, null, why);
    log.warn({ host: p.name, job: jobId, error: why }, 'provisioning failed; removing the host again');
    await registry.remove(p.name, false).catch((e: unknown) => log.error({ host: p.name, err: (e as Error).message }, 'cannot remove the half-provisioned host'));
    if (target.kind === 'file' && !target.exists) await rm(target.path, { force: true }).catch(() => undefined);
    if (err instanceof TargetRefusedError) throw new TargetRefusedError(`${err.message}; nothing was written and ${p.name} was removed again`);
    throw new ProvisionError(`${why}; ${p.name} was removed again${target.kind === 'device' ? ` and ${target.path} may hold a partial image` : ''}`);
  }
}
