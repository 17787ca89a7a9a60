import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import ssh2 from 'ssh2';
import type { RotationResult } from '../../../protocol/keys.js';
import type { Core } from '../../core/feature.js';
import { TowerError } from '../../core/errors.js';
import { runCaptured } from '../../core/exec/run.js';
import { generateEd25519 } from '../../core/registry/keys.js';
import type { Host } from '../../core/registry/registry.js';
import type { HostSession } from '../../core/ssh/session.js';
import { exists, writeFileAtomic } from '../../core/util/fs.js';
import { testCrashSeam } from '../../core/util/testseam.js';
import { hostDir } from '../../shared/paths.js';
import { keyBlob, parseRewrite, rewriteArgv } from './authorized.js';
import { JOURNAL_FILE, NEW_KEY_FILE, finishingSteps, readJournal, recoveryFor, removeQuietly, writeJournal, type Journal } from './journal.js';
import { proveKey } from './prove.js';

const { utils } = ssh2;
const REWRITE_TIMEOUT_MS = 20_000;

/** SHA256:… of a public key line, as `ssh-keygen -lf` prints it. */
export function fingerprint(line: string): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(keyBlob(line), 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/** The public line of the private key in `path` (`ssh-ed25519 BLOB NAME`). */
async function publicLineOf(path: string, comment: string): Promise<string> {
  const parsed = utils.parseKey(await readFile(path));
  if (parsed instanceof Error || parsed.type !== 'ssh-ed25519' || !parsed.isPrivateKey()) throw new Error(`${path} is not an unencrypted ed25519 private key`);
  return `ssh-ed25519 ${parsed.getPublicSSH().toString('base64')} ${comment}`;
}

/** Key rotations: one at a time per host, and the recovery of interrupted ones. */
export class Rotator {
  private readonly busy = new Set<string>();

  constructor(private readonly core: Core) {}

  private dir(name: string): string {
    return hostDir(this.core.paths, name);
  }

  private host(name: string): Host {
    const h = this.core.registry.get(name);
    if (!h) throw new TowerError('HostNotFound', `no host named ${name}`);
    return h;
  }

  private async exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.busy.has(name)) throw new TowerError('KeyRotationFailed', `a key rotation of ${name} is already running`);
    this.busy.add(name);
    try {
      return await fn();
    } finally {
      this.busy.delete(name);
    }
  }

  private async journal(name: string, j: Journal, step: Journal['step']): Promise<Journal> {
    const next = { ...j, step };
    await writeJournal(this.dir(name), next);
    this.core.log.info({ host: name, step }, 'key rotation step');
    testCrashSeam(step);
    return next;
  }

  /** One rewrite of the host's authorized_keys: keep `keep`, drop `remove`; checks the result. */
  private async rewrite(s: HostSession, keep: string, remove: string, what: string): Promise<void> {
    const r = await runCaptured(s, rewriteArgv(keep, remove), REWRITE_TIMEOUT_MS, 16 * 1024);
    const out = parseRewrite(r.stdout);
    if (r.code !== 0 || !out) {
      throw new Error(`${what} on ${s.host.name} failed (${r.code === null ? 'no exit status' : `exit ${r.code}`}${r.stderr ? `: ${r.stderr.slice(0, 300)}` : ''})`);
    }
    if (out.has !== 1 || out.stale !== 0) throw new Error(`${what} on ${s.host.name}: authorized_keys holds the kept key ${out.has} times and the removed one ${out.stale} times`);
  }

  private async installHere(h: Host, j: Journal): Promise<void> {
    const staged = join(this.dir(h.name), NEW_KEY_FILE);
    const priv = await readFile(staged, 'utf8').catch(() => undefined);
    if (priv === undefined) {
      // already in place (the staged file goes only after the journal's last step)
      if ((await publicLineOf(h.identityFile, h.name).catch(() => '')).split(' ')[1] === keyBlob(j.newPublicKey)) return;
      throw new Error(`the new key ${staged} is missing`);
    }
    await writeFileAtomic(h.identityFile, priv, 0o600);
    await writeFileAtomic(`${h.identityFile}.pub`, `${j.newPublicKey}\n`, 0o644);
  }

  private async clean(name: string): Promise<void> {
    const dir = this.dir(name);
    await removeQuietly(join(dir, NEW_KEY_FILE));
    await removeQuietly(join(dir, `${NEW_KEY_FILE}.pub`));
    await removeQuietly(join(dir, JOURNAL_FILE));
  }

  /** `keys.rotate`: see protocol/keys.ts and the table in journal.ts. */
  rotate(name: string): Promise<RotationResult> {
    const h = this.host(name);
    return this.exclusive(name, async () => {
      const t0 = performance.now();
      const s = this.core.connected(name);
      const dir = this.dir(name);
      const pending = await readJournal(dir).catch((err: Error) => {
        throw new TowerError('KeyRotationFailed', err.message);
      });
      if (pending) {
        throw new TowerError('KeyRotationFailed', `an interrupted key rotation of ${name} (at step ${pending.step}) is still pending; towerd finishes it when ${name} connects (towerctl host reconnect ${name})`);
      }
      // the key file is replaced in place: it must be this host's own, not one another host or the user also uses
      if (resolve(h.identityFile) !== resolve(join(dir, 'id_ed25519'))) {
        throw new TowerError('KeyRotationFailed', `${name} uses the key ${h.identityFile}, not its own ${join(dir, 'id_ed25519')}; Tower rotates only the keys it keeps in a host's folder (point IdentityFile back there first)`);
      }
      const sharing = this.core.registry.list().find((o) => o.name !== name && resolve(o.identityFile) === resolve(h.identityFile));
      if (sharing) throw new TowerError('KeyRotationFailed', `${name} shares its key file with ${sharing.name}; rotating it would lock ${sharing.name} out`);
      let oldLine: string;
      try {
        oldLine = await publicLineOf(h.identityFile, name);
      } catch (err) {
        throw new TowerError('KeyRotationFailed', `cannot rotate the key of ${name}: ${(err as Error).message}`);
      }
      const pair = generateEd25519(name);
      const newLine = pair.publicKey.trim();
      await writeFileAtomic(join(dir, NEW_KEY_FILE), pair.privateKey, 0o600);
      await writeFileAtomic(join(dir, `${NEW_KEY_FILE}.pub`), `${newLine}\n`, 0o644);
      let j: Journal = { version: 1, step: 'staged', startedAt: new Date().toISOString(), oldPublicKey: oldLine, newPublicKey: newLine };
      j = await this.journal(name, j, 'staged');
      try {
        await this.rewrite(s, newLine, '', 'adding the new key');
        j = await this.journal(name, j, 'added');
        const { ssh } = this.core.settings();
        await proveKey(
          { name, ip: h.ip, port: ssh.port, user: h.user, knownHostsPath: this.core.paths.knownHosts, connectTimeoutMs: Math.max(ssh.connectTimeoutMs, 3000), handshakeTimeoutMs: ssh.handshakeTimeoutMs },
          pair.privateKey,
        );
        j = await this.journal(name, j, 'proven');
      } catch (err) {
        const why = (err as Error).message;
        this.core.log.warn({ host: name, err: why }, 'key rotation failed before the new key was proven; rolling back');
        const back = await this.rollback(name, j).then(
          () => `the old key stays in use`,
          (e: Error) => `rolling back failed too (${e.message}); the old key stays in use and towerd retries the roll-back when ${name} next connects`,
        );
        throw new TowerError('KeyRotationFailed', `cannot rotate the key of ${name}: ${why}; ${back}`);
      }
      try {
        await this.finish(name, j);
      } catch (err) {
        throw new TowerError('KeyRotationFailed', `the new key of ${name} is proven and in use here, but finishing failed: ${(err as Error).message}; towerd finishes it when ${name} next connects`);
      }
      return { host: name, oldPublicKey: oldLine, newPublicKey: newLine, fingerprint: fingerprint(newLine), durationMs: Math.round(performance.now() - t0) };
    });
  }

  /** Back to the old key: the new one removed from the host (kept there: the old one), the staged files deleted. */
  private async rollback(name: string, j: Journal): Promise<void> {
    const s = this.core.connected(name);
    await this.rewrite(s, j.oldPublicKey, j.newPublicKey, 'removing the new key');
    await this.clean(name);
    this.core.log.info({ host: name }, 'key rotation rolled back: the old key stays');
  }

  /** From a proven new key to the end: the new key in place here, the old one removed there, the journal gone. */
  private async finish(name: string, j: Journal): Promise<void> {
    const h = this.host(name);
    for (const step of finishingSteps(j.step)) {
      if (step === 'install') {
        await this.installHere(h, j);
        j = await this.journal(name, j, 'installed');
      } else if (step === 'remove-old') {
        await this.rewrite(this.core.connected(name), j.newPublicKey, j.oldPublicKey, 'removing the old key');
        j = await this.journal(name, j, 'removed');
      } else {
        await this.clean(name);
        this.core.log.info({ host: name, fingerprint: fingerprint(j.newPublicKey) }, 'key rotated');
      }
    }
  }

  /**
   * A journal left by an interrupted rotation: finish it or roll it back (journal.ts), now that the host is
   * connected. Failures are logged; the journal stays for the next connect.
   */
  async recover(name: string): Promise<void> {
    if (this.busy.has(name) || !this.core.registry.get(name)) return;
    await this.exclusive(name, async () => {
      const dir = this.dir(name);
      let j: Journal | undefined;
      try {
        j = await readJournal(dir);
      } catch (err) {
        this.core.log.error({ host: name, err: (err as Error).message }, 'cannot read the key-rotation journal; left as it is');
        return;
      }
      if (!j) {
        // staged files without a journal: the host was never told about them
        if (await exists(join(dir, NEW_KEY_FILE))) await this.clean(name);
        return;
      }
      const action = recoveryFor(j.step);
      this.core.log.info({ host: name, step: j.step, action }, 'resuming an interrupted key rotation');
      try {
        if (action === 'rollback') await this.rollback(name, j);
        else await this.finish(name, j);
      } catch (err) {
        this.core.log.warn({ host: name, step: j.step, action, err: (err as Error).message }, 'cannot resume the key rotation yet; trying again at the next connect');
      }
    });
  }
}
