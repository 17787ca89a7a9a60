// Transfers: the policy decision, staging into the target's hidden folder, the answer (commit or discard), the
// removal of a move's sources, and a record of every outcome.
import { randomBytes } from 'node:crypto';
import { MAX_LISTED_ENTRIES, THIN_CLIENT_END, type FilesTransfer, type Params } from '../../../protocol/index.js';
import type { Core } from '../../core/feature.js';
import { TowerError, noSuchHost } from '../../core/errors.js';
import type { Connection } from '../../core/rpc/server.js';
import { hostEnd, localEnd, sourcePath, targetDir, TMP_PREFIX, type End, type SourcePath, type TopEntry } from './ends.js';
import { decide, type PolicyEnd } from './policy.js';
import { PendingTmps, TransferLog } from './records.js';
import { Refused, stage } from './stage.js';

interface Staged {
  record: FilesTransfer;
  target: End;
  source: End;
  sources: SourcePath[];
  base: string;
  sub: string;
  tmp: string;
  top: TopEntry[];
  timer: NodeJS.Timeout;
  unwatch: () => void;
}

const INCOMING = './TowerIncoming';
const PROGRESS_EVERY_MS = 250;

export class Transfers {
  readonly log: TransferLog;
  readonly pending: PendingTmps;
  private readonly staged = new Map<string, Staged>();
  private readonly running = new Map<string, AbortController>();
  private readonly cleaning = new Set<string>();

  constructor(private readonly core: Core) {
    this.log = TransferLog.in(core.paths.towerDir, () => core.settings().files.logBytes);
    this.pending = PendingTmps.in(core.paths.towerDir);
  }

  private end(name: string): { end: End; policy: PolicyEnd } {
    if (name === THIN_CLIENT_END) return { end: localEnd(this.core.paths.home, THIN_CLIENT_END), policy: { name, role: 'thinclient' } };
    const host = this.core.registry.get(name);
    if (!host) throw noSuchHost(name);
    this.core.connected(name);
    return { end: hostEnd(() => this.core.connected(name)), policy: { name, role: host.role } };
  }

  private async finish(record: FilesTransfer): Promise<FilesTransfer> {
    try {
      await this.log.append(record);
    } catch (err) {
      this.core.log.error({ err: (err as Error).message, path: this.log.path }, 'cannot write the transfer log');
    }
    this.core.hub.publish({ type: 'files.transfer', topic: 'files', transfer: record });
    const level = record.state === 'done' ? 'info' : 'warn';
    this.core.log[level]({ id: record.id, from: record.from, to: record.to, entries: record.entryCount, bytes: record.bytes, reason: record.reason }, `files ${record.state}`);
    return record;
  }

  private async removeTmp(end: End, tmp: string): Promise<boolean> {
    try {
      await end.removeTmp(tmp);
      await this.pending.remove({ end: end.name, tmp });
      return true;
    } catch (err) {
      this.core.log.warn({ host: end.name, tmp, err: (err as Error).message }, 'cannot remove a temporary transfer folder yet; removed when the end is next reached');
      return false;
    }
  }

  /** Temporary folders of transfers towerd did not finish (it was killed): removed once their end is reachable. */
  async cleanLeftovers(endName?: string): Promise<void> {
    for (const e of this.pending.entries()) {
      if (endName !== undefined && e.end !== endName) continue;
      if ([...this.staged.values()].some((s) => s.tmp === e.tmp) || !e.tmp.split('/').pop()?.startsWith(TMP_PREFIX)) continue;
      let end: End;
      try {
        end = e.end === THIN_CLIENT_END ? localEnd(this.core.paths.home, THIN_CLIENT_END) : (this.core.connected(e.end), hostEnd(() => this.core.connected(e.end)));
      } catch {
        continue;
      }
      if (this.cleaning.has(e.tmp)) continue;
      this.cleaning.add(e.tmp);
      const removed = await this.removeTmp(end, e.tmp).finally(() => this.cleaning.delete(e.tmp));
      if (!removed) continue;
      this.core.log.info({ host: e.end, tmp: e.tmp }, 'removed the temporary folder of an unfinished transfer');
      if (e.transfer && !this.staged.has(e.transfer.id) && !this.running.has(e.transfer.id)) {
        await this.finish({ ...e.transfer, state: 'failed', reason: `towerd stopped during the transfer; its hidden folder ${e.tmp} was removed` });
      }
    }
  }

  async copy(p: Params<'files.copy'>, conn: Connection): Promise<FilesTransfer> {
    const id = p.id ?? randomBytes(8).toString('hex');
    if (this.staged.has(id) || this.running.has(id)) throw new TowerError('FilesRefused', `a transfer with id ${id} is already under way`);
    const record: FilesTransfer = {
      id,
      time: new Date().toISOString(),
      from: p.from,
      to: p.to,
      sources: p.paths,
      dir: null,
      move: p.move,
      action: 'ask',
      state: 'refused',
      reason: null,
      entries: [],
      entryCount: 0,
      bytes: 0,
      refusals: [],
      names: [],
      removed: false,
    };
    const refuse = async (reason: string, code: 'FilesRefused' | 'FilesFailed' = 'FilesRefused', state: 'refused' | 'failed' = 'refused'): Promise<never> => {
      record.state = state;
      record.reason = reason;
      await this.finish(record);
      throw new TowerError(code, reason, { transfer: record });
    };
    const sources: SourcePath[] = [];
    for (const raw of p.paths) {
      const s = sourcePath(raw);
      if ('error' in s) throw new TowerError('FilesRefused', s.error);
      sources.push(s);
    }
    const from = this.end(p.from);
    const to = this.end(p.to);
    const settings = this.core.settings().files;
    const d = decide(settings.policy, from.policy, to.policy);
    record.action = d.action;
    const rule = d.rule === null ? 'no rule matched (ask)' : `files.policy[${d.rule}]`;
    if (d.action === 'deny') return refuse(`the policy denies ${p.from} (${from.policy.role}) → ${p.to} (${to.policy.role}): ${rule}`);
    const autoCommit: boolean = d.action === 'allow' || (p.yes && d.yes);
    if (!autoCommit && !p.interactive) {
      return refuse(
        `the policy asks before ${p.from} → ${p.to} (${rule}) and there is no terminal to ask on` + (p.yes ? '; --yes answers only rules with "yes": true' : ''),
      );
    }

    const abort = new AbortController();
    this.running.set(id, abort);
    const unwatch = conn.onClose(() => abort.abort(new Error('the client went away')));
    const base = p.dir ? targetDir(p.dir) : INCOMING;
    const sub = p.dir ? '' : p.from;
    let tmp: string | undefined;
    try {
      const absBase = await to.end.prepare(base);
      record.dir = sub ? `${absBase}/${sub}` : absBase;
      tmp = `${absBase}/${TMP_PREFIX}${id}`;
      await this.pending.add({ end: to.end.name, tmp, transfer: { ...record, state: 'failed' } });
      await to.end.makeTmp(tmp);
      let last = 0;
      const started = Date.now();
      const staged = await stage(
        from.end,
        sources,
        to.end,
        tmp,
        {
          limits: { maxBytes: settings.maxBytes, maxEntries: settings.maxEntries },
          signal: abort.signal,
          progress: (bytes, entries, current) => {
            const now = Date.now();
            if (now - last < PROGRESS_EVERY_MS) return;
            last = now;
            const secs = (now - started) / 1000;
            this.core.hub.publish({ type: 'files.progress', topic: 'files', progress: { id, bytes, entries, bytesPerSecond: secs > 0.5 ? bytes / secs : null, current } });
          },
        },
        MAX_LISTED_ENTRIES,
      );
      record.entries = staged.entries;
      record.entryCount = staged.entryCount;
      record.bytes = staged.bytes;
      if (autoCommit) {
        await this.commitStaged({ record, target: to.end, source: from.end, sources, base: absBase, sub, tmp, top: staged.top });
        return await this.finish(record);
      }
      record.state = 'staged';
      const s: Staged = {
        record,
        target: to.end,
        source: from.end,
        sources,
        base: absBase,
        sub,
        tmp,
        top: staged.top,
        timer: setTimeout(() => void this.drop(id, `no answer within ${Math.round(settings.askTimeoutMs / 1000)} s`), settings.askTimeoutMs),
        unwatch: conn.onClose(() => void this.drop(id, 'the client went away before answering')),
      };
      this.staged.set(id, s);
      this.core.hub.publish({ type: 'files.transfer', topic: 'files', transfer: record });
      return record;
    } catch (err) {
      if (tmp) await this.removeTmp(to.end, tmp);
      if (err instanceof Refused) {
        record.refusals = err.refusals;
        return refuse(err.message);
      }
      if (err instanceof TowerError) return refuse(err.message, err.code === 'FilesRefused' ? 'FilesRefused' : 'FilesFailed', err.code === 'FilesRefused' ? 'refused' : 'failed');
      return refuse((err as Error).message, 'FilesFailed', 'failed');
    } finally {
      unwatch();
      this.running.delete(id);
    }
  }

  /** rename into place, then (a move) remove the sources: only after the target answered the names it gave */
  private async commitStaged(s: Omit<Staged, 'timer' | 'unwatch'>): Promise<void> {
    s.record.names = await s.target.rename(s.base, s.sub, s.tmp, s.top);
    await this.pending.remove({ end: s.target.name, tmp: s.tmp });
    s.record.state = 'done';
    if (s.record.move) {
      try {
        await s.source.removeSources(s.sources);
        s.record.removed = true;
      } catch (err) {
        s.record.reason = `copied, but the sources were not removed: ${(err as Error).message}`;
      }
    }
  }

  private take(id: string): Staged {
    const s = this.staged.get(id);
    if (!s) throw new TowerError('TransferNotFound', `no transfer ${id} waiting for an answer (answered, timed out, or its client went away)`);
    this.staged.delete(id);
    clearTimeout(s.timer);
    s.unwatch();
    return s;
  }

  async commit(id: string, confirm: string): Promise<FilesTransfer> {
    const s = this.staged.get(id);
    if (s && confirm !== s.record.to) throw new TowerError('FilesRefused', `type the target's name, ${s.record.to}, to confirm`);
    const t = this.take(id);
    try {
      await this.commitStaged(t);
    } catch (err) {
      await this.removeTmp(t.target, t.tmp);
      t.record.state = 'failed';
      t.record.reason = (err as Error).message;
      await this.finish(t.record);
      throw new TowerError('FilesFailed', `${t.record.to}: ${(err as Error).message}`, { transfer: t.record });
    }
    return this.finish(t.record);
  }

  async drop(id: string, reason: string): Promise<FilesTransfer> {
    const t = this.take(id);
    await this.removeTmp(t.target, t.tmp);
    t.record.state = 'declined';
    t.record.reason = reason;
    return this.finish(t.record);
  }

  async stop(): Promise<void> {
    for (const a of this.running.values()) a.abort(new Error('towerd is stopping'));
    await Promise.allSettled([...this.staged.keys()].map((id) => this.drop(id, 'towerd stopped before an answer')));
  }
}
