import type { AuditCheck, HostAudit, Posture } from '../../../protocol/index.js';
import type { Core } from '../../core/feature.js';
import { runChannel } from '../../core/exec/run.js';
import type { Host } from '../../core/registry/registry.js';
import { networkOfIp } from '../../core/registry/addressing.js';
import type { HostSession } from '../../core/ssh/session.js';
import { BOOT_SCRIPT, bootChecks, parseBootOutput } from './boot.js';
import { PROBE_SCRIPT, RELAY_NAME, RESOLVE_SCRIPT, judge, parseProbeOutput, parseResolveOutput, probeArgs, unknownProbes } from './probe.js';
import { parseSshdT, sshdArgv, sshdChecks } from './sshd.js';
import { probesFor, type InternetTarget } from './targets.js';

const MAX_OUTPUT = 64 * 1024;
/** the relay's addresses are asked of the router at most this often */
const RESOLVE_TTL_MS = 60_000;
const MAX_CONCURRENT = 4;

export function postureOf(checks: readonly AuditCheck[], error: string | null): Posture {
  if (checks.some((c) => c.status === 'open')) return 'open';
  if (error || checks.some((c) => c.status === 'unknown')) return 'unknown';
  return 'ok';
}

/** A command on the host that could not be run or read, in words. */
function failure(what: string, r: { code: number | null; stderr: string }): string {
  const last = r.stderr.split('\n').filter(Boolean).at(-1)?.slice(0, 200);
  if (r.code === null) return `${what}: no exit status (connection lost or timed out)`;
  if (r.code === 127) return `${what}: command not found${last ? ` (${last})` : ''}`;
  return `${what}: exit status ${r.code}${last ? ` (${last})` : ''}`;
}

/** A command on the host, its output bounded and as text. */
async function run(s: HostSession, argv: string[], opts: { timeoutMs: number; input?: string }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await runChannel(s, argv, { ...opts, maxBytes: MAX_OUTPUT });
  return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
}

/**
 * Audits hosts: on demand, and after a host connects (once it has stayed connected for settleMs, at most once per
 * intervalMs unless the last audit could not finish). One audit per host at a time; a request during one joins it.
 */
export class Auditor {
  private readonly last = new Map<string, HostAudit>();
  private readonly running = new Map<string, Promise<HostAudit>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private resolved: { at: number; targets: InternetTarget[] } | undefined;
  private resolving: Promise<InternetTarget[]> | undefined;
  /** audits running now, over all hosts: after towerd starts every host connects at once */
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly core: Core,
    private readonly publish: (audit: HostAudit) => void,
    /** what one host's audit checks; the real probes unless a test gives its own */
    private readonly checkHost: (host: Host, s: HostSession) => Promise<AuditCheck[]> = (host, s) => this.checks(host, s),
  ) {}

  lastOf(name: string): HostAudit | undefined {
    return this.last.get(name);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  forget(name: string): void {
    this.last.delete(name);
    clearTimeout(this.timers.get(name));
    this.timers.delete(name);
  }

  connectionChanged(name: string, online: boolean): void {
    clearTimeout(this.timers.get(name));
    this.timers.delete(name);
    if (!online || this.stopped) return;
    const cfg = this.core.settings().audit;
    if (!cfg.auto) return;
    const due = (n: string) => {
      const l = this.last.get(n);
      return !l || l.posture === 'unknown' || Date.now() - Date.parse(l.at) >= cfg.intervalMs;
    };
    const schedule = (n: string) => {
      if (this.timers.has(n) || !due(n)) return;
      const t = setTimeout(() => {
        this.timers.delete(n);
        if (this.stopped || !this.isConnected(n) || !due(n)) return;
        this.audit(n, 'connect').catch((err: unknown) => this.core.log.error({ host: n, err: (err as Error).message }, 'audit failed'));
      }, cfg.settleMs);
      t.unref();
      this.timers.set(n, t);
    };
    schedule(name);
    // the router answers for the relay's address: hosts whose audit could not learn it get another try
    if (this.core.registry.get(name)?.role === 'router') {
      this.resolved = undefined;
      for (const h of this.core.registry.list()) if (h.name !== name && this.last.get(h.name)?.posture === 'unknown' && this.isConnected(h.name)) schedule(h.name);
    }
  }

  private isConnected(name: string): boolean {
    return Boolean(this.core.supervisor?.get(name)?.connection);
  }

  /** Audit these hosts now (at most MAX_CONCURRENT at a time, with the automatic ones). */
  async run(names: readonly string[]): Promise<HostAudit[]> {
    const out: HostAudit[] = new Array<HostAudit>(names.length);
    await Promise.all(names.map(async (n, i) => (out[i] = await this.audit(n, 'manual'))));
    return out;
  }

  audit(name: string, trigger: HostAudit['trigger']): Promise<HostAudit> {
    const busy = this.running.get(name);
    if (busy) return busy;
    const p = this.auditNow(name, trigger).finally(() => this.running.delete(name));
    this.running.set(name, p);
    return p;
  }

  private async auditNow(name: string, trigger: HostAudit['trigger']): Promise<HostAudit> {
    const started = Date.now();
    const host = this.core.registry.get(name);
    let checks: AuditCheck[] = [];
    let error: string | null = null;
    if (!host) error = `no host named ${name}`;
    else {
      let session: HostSession | undefined;
      try {
        session = this.core.connected(name);
      } catch (err) {
        error = (err as Error).message;
      }
      if (session) {
        while (this.active >= MAX_CONCURRENT) await new Promise<void>((r) => this.waiting.push(r));
        this.active++;
        try {
          checks = await this.checkHost(host, session);
        } finally {
          this.active--;
          this.waiting.shift()?.();
        }
      }
    }
    const audit: HostAudit = { name, posture: postureOf(checks, error), at: new Date().toISOString(), durationMs: Date.now() - started, trigger, error, checks };
    if (!host || this.stopped) return audit;
    this.last.set(name, audit);
    const open = checks.filter((c) => c.status === 'open').map((c) => `${c.check}${c.target ? ` ${c.target}` : ''}: ${c.seen}`);
    if (open.length) this.core.log.warn({ host: name, open }, 'posture audit: open');
    else this.core.log.info({ host: name, posture: audit.posture, ...(error ? { error } : {}) }, 'posture audit');
    this.publish(audit);
    return audit;
  }

  private async checks(host: Host, s: HostSession): Promise<AuditCheck[]> {
    const settings = this.core.settings();
    const cfg = settings.audit;
    const internet = await this.internet();
    const probes = probesFor(host, this.core.registry.list(), settings, internet);
    const network = (async (): Promise<AuditCheck[]> => {
      const r = await run(s, ['python3', '-', ...probeArgs(probes, cfg.connectTimeoutMs)], { timeoutMs: cfg.connectTimeoutMs + 15_000, input: PROBE_SCRIPT });
      if (r.code !== 0) return unknownProbes(probes, failure('python3 probe', r));
      const outcomes = parseProbeOutput(r.stdout, probes.length);
      return outcomes ? probes.map((p, i) => judge(p, outcomes[i]!)) : unknownProbes(probes, 'python3 probe: output not understood');
    })();
    const sshd = (async (): Promise<AuditCheck[]> => {
      const r = await run(s, sshdArgv(settings.packages.privilege, cfg.sshdConfig), { timeoutMs: 15_000 });
      if (r.code !== 0) {
        const why = r.code === 127 ? `${failure('sshd -T', r)}; the privilege command is packages.privilege in towerd.json` : failure('sshd -T', r);
        return [{ check: 'sshd -T', target: null, expect: 'runs', seen: why.slice(0, 300), status: 'unknown' }];
      }
      return sshdChecks(parseSshdT(r.stdout));
    })();
    const boot = (async (): Promise<AuditCheck[]> => {
      const r = await run(s, ['sh', '-c', BOOT_SCRIPT, 'sh', ...cfg.bootMounts], { timeoutMs: 10_000 });
      if (r.code !== 0) return [{ check: 'left on boot media', target: null, expect: 'absent', seen: failure('boot media check', r).slice(0, 300), status: 'unknown' }];
      return bootChecks(parseBootOutput(r.stdout, cfg.bootMounts));
    })();
    const unresolved: AuditCheck[] = internet
      .filter((t) => t.addresses === null || t.addresses.length === 0)
      .map((t) => ({ check: 'internet (relay host)', target: t.name, expect: host.role === 'offline' ? 'nothing leaves' : 'an answer', seen: (t.why ?? 'no address').slice(0, 300), status: 'unknown' }));
    // all three at once: awaiting them in turn would leave the later ones' rejections unhandled when an earlier one
    // fails (a lost connection fails all three), and an unhandled rejection ends towerd
    const [net, conf, media] = await Promise.all([network, sshd, boot]);
    return [...net, ...unresolved, ...conf, ...media];
  }

  /**
   * The addresses the relay would dial: it opens its upstream connections from the router, so they are what the
   * router resolves the allow-listed names to. Addresses on the Tower networks or loopback are not probed.
   */
  private internet(): Promise<InternetTarget[]> {
    if (this.resolved && Date.now() - this.resolved.at < RESOLVE_TTL_MS) return Promise.resolve(this.resolved.targets);
    // hosts audited together share one question to the router
    this.resolving ??= this.resolve().finally(() => (this.resolving = undefined));
    return this.resolving;
  }

  private async resolve(): Promise<InternetTarget[]> {
    const settings = this.core.settings();
    const allow = settings.packages.relay.allow;
    const none = (why: string) => allow.map((a) => ({ name: a.host, ports: a.ports, addresses: null, why }));
    const router = this.core.registry.list().find((h) => h.role === 'router');
    if (!router) return none('no router registered: the relay has no way out');
    let session: HostSession;
    try {
      session = this.core.connected(router.name);
    } catch {
      return none('the router is not connected: cannot learn the relay’s address');
    }
    const names = allow.map((a) => a.host).filter((n) => RELAY_NAME.test(n));
    const r = names.length ? await run(session, ['python3', '-', ...names], { timeoutMs: 10_000, input: RESOLVE_SCRIPT }) : undefined;
    if (r && r.code !== 0) return none(failure('resolving on the router', r));
    const found = parseResolveOutput(r?.stdout ?? '', names);
    const targets = allow.map((a): InternetTarget => {
      const addrs = found.get(a.host);
      if (!addrs) return { name: a.host, ports: a.ports, addresses: null, why: 'not resolved on the router' };
      const usable = addrs.filter((ip) => !ip.startsWith('127.') && !ip.startsWith('0.') && !networkOfIp(settings, ip));
      return usable.length ? { name: a.host, ports: a.ports, addresses: usable.slice(0, 2) } : { name: a.host, ports: a.ports, addresses: null, why: addrs.length ? `resolves to ${addrs.join(' ')} on the router, not an internet address` : 'not resolved on the router' };
    });
    // only a complete answer is kept: a router that could not resolve yet (just booted) is asked again next time
    if (targets.every((t) => t.addresses)) this.resolved = { at: Date.now(), targets };
    return targets;
  }
}
