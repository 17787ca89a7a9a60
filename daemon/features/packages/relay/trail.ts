import type { RelayAuditRecord } from '../../../../protocol/packages.js';
import type { RelayAudit } from './proxy.js';

interface HostAudit {
  fetches: number;
  bytes: number;
  sent: number;
  refusals: number;
  failures: number;
  recent: RelayAuditRecord[];
}

/**
 * A request target as the audit keeps it: every byte outside printable ASCII (controls, spaces, DEL, anything
 * non-ASCII) percent-encoded as in a URL. The relay accepts any non-whitespace byte in a target, and the trail
 * is shown and handed on (`relay.trail`) as text, where an escape sequence from a host has no business.
 */
export function auditTarget(s: string): string {
  return s.replace(/[^\x21-\x7e]+/g, (run) => [...Buffer.from(run, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}

/** Per host: counts since towerd started and the last `keep` records. In memory only: it is not a cache. */
export class RelayTrail {
  private readonly hosts = new Map<string, HostAudit>();

  constructor(private readonly keep = 200) {}

  record(a: RelayAudit, now = Date.now()): RelayAuditRecord {
    let h = this.hosts.get(a.host);
    if (!h) this.hosts.set(a.host, (h = { fetches: 0, bytes: 0, sent: 0, refusals: 0, failures: 0, recent: [] }));
    if (a.kind === 'fetch' || a.kind === 'tunnel') h.fetches++;
    if (a.kind === 'refused') h.refusals++;
    if (a.kind === 'failed') h.failures++;
    h.bytes += a.bytes;
    h.sent += a.sent;
    const rec: RelayAuditRecord = { time: now, ...a, method: auditTarget(a.method), target: auditTarget(a.target) };
    h.recent.unshift(rec);
    if (h.recent.length > this.keep) h.recent.length = this.keep;
    return rec;
  }

  summary(host: string | undefined, limit: number) {
    return [...this.hosts.entries()]
      .filter(([name]) => !host || name === host)
      .map(([name, h]) => ({ name, fetches: h.fetches, bytes: h.bytes, sent: h.sent, refusals: h.refusals, failures: h.failures, recent: h.recent.slice(0, limit) }));
  }
}
