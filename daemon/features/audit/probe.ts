// The network half of the audit: one python3 run on the host (TowerOS has it in its stock image) that sends one
// empty UDP datagram and opens one TCP connection per target, all at once, bounded by one timeout, and prints one
// short line per target. Only those lines are read, each checked against a closed set of words.
import type { AuditCheck } from '../../../protocol/index.js';
import type { Expect, Probe } from './targets.js';

/**
 * Why UDP as well as TCP: a TCP SYN dropped by the host's own firewall and one dropped by the far end both end in a
 * timeout (Linux retries a locally dropped SYN instead of failing the connect), but a UDP send that the host's own
 * firewall drops fails at once with EPERM. So "nothing answered" and "nothing left" can be told apart.
 */
export const PROBE_SCRIPT = `import errno, select, socket, sys, time
def word(e):
    if e == errno.ECONNREFUSED: return 'refused'
    if e in (errno.ENETUNREACH, errno.EHOSTUNREACH): return 'unreachable'
    if e in (errno.EPERM, errno.EACCES): return 'blocked'
    if e == errno.ETIMEDOUT: return 'timeout'
    return 'error-' + errno.errorcode.get(e, 'E%d' % e)
limit = float(sys.argv[1])
targets = []
for a in sys.argv[2:]:
    h, p = a[1:].rsplit(':', 1)
    targets.append((a[0] == 'u', h, int(p)))
udp = []
for u, h, p in targets:
    if not u:
        udp.append('skip')
        continue
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(b'', (h, p))
        udp.append('sent')
    except OSError as e:
        udp.append(word(e.errno))
    s.close()
tcp = ['timeout'] * len(targets)
pending = {}
for i, (u, h, p) in enumerate(targets):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    e = s.connect_ex((h, p))
    if e in (errno.EINPROGRESS, errno.EAGAIN):
        pending[s] = i
        continue
    tcp[i] = 'connected' if e == 0 else word(e)
    s.close()
end = time.monotonic() + limit
while pending:
    left = end - time.monotonic()
    if left <= 0:
        break
    ready = select.select([], list(pending), [], left)[1]
    for s in ready:
        e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        tcp[pending.pop(s)] = 'connected' if e == 0 else word(e)
        s.close()
for s in pending:
    s.close()
for i in range(len(targets)):
    print(i, tcp[i], udp[i])
`;

/** argv after `python3 -`: the timeout in seconds, then `u` (also send UDP) or `t` and ip:port per probe. */
export function probeArgs(probes: readonly Probe[], timeoutMs: number): string[] {
  return [(timeoutMs / 1000).toFixed(3), ...probes.map((p) => `${p.expect === 'stays' ? 'u' : 't'}${p.ip}:${p.port}`)];
}

export interface Outcome {
  tcp: string;
  udp: string;
}

const TCP = /^(connected|refused|unreachable|blocked|timeout|error-[A-Z0-9]{1,24})$/;
const UDP = /^(sent|skip|refused|unreachable|blocked|timeout|error-[A-Z0-9]{1,24})$/;

/** The probe's lines, one per target in order; null when the output is not exactly that. */
export function parseProbeOutput(text: string, count: number): Outcome[] | null {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length !== count) return null;
  const out: Outcome[] = [];
  for (const [i, line] of lines.entries()) {
    const [n, tcp, udp, ...rest] = line.split(' ');
    if (rest.length || n !== String(i) || !tcp || !udp || !TCP.test(tcp) || !UDP.test(udp)) return null;
    out.push({ tcp, udp });
  }
  return out;
}

export const EXPECT_TEXT: Record<Expect, string> = {
  stays: 'nothing leaves',
  unanswered: 'no answer',
  answers: 'an answer',
  any: 'anything',
};

const answered = (tcp: string) => tcp === 'connected' || tcp === 'refused';

/**
 * One probe's verdict. A refused connect counts as reached: the packet got to a machine that answered. A udp
 * datagram the host let out towards an address it must not send to is open even if nothing answered.
 */
export function judge(p: Probe, o: Outcome): AuditCheck {
  const seen = o.udp === 'skip' ? `tcp ${o.tcp}` : `tcp ${o.tcp}, udp ${o.udp}`;
  const base = { check: p.check, target: p.label ?? `${p.ip}:${p.port}`, expect: EXPECT_TEXT[p.expect], seen };
  const error = o.tcp.startsWith('error-') || o.udp.startsWith('error-');
  switch (p.expect) {
    case 'stays':
      if (answered(o.tcp) || o.udp === 'sent') return { ...base, status: 'open' };
      return { ...base, status: error ? 'unknown' : 'ok' };
    case 'unanswered':
      if (answered(o.tcp)) return { ...base, status: 'open' };
      return { ...base, status: error ? 'unknown' : 'ok' };
    case 'answers':
      return { ...base, status: answered(o.tcp) ? 'ok' : 'warn' };
    case 'any':
      return { ...base, status: 'ok' };
  }
}

/** Every probe unknown, with the reason as what was seen. */
export function unknownProbes(probes: readonly Probe[], why: string): AuditCheck[] {
  return probes.map((p) => ({ check: p.check, target: p.label ?? `${p.ip}:${p.port}`, expect: EXPECT_TEXT[p.expect], seen: why.slice(0, 300), status: 'unknown' as const }));
}

/** Resolves each name with the host's resolver and prints `name addr addr…` (or `name -`). */
export const RESOLVE_SCRIPT = `import socket, sys
for n in sys.argv[1:]:
    try:
        a = sorted({i[4][0] for i in socket.getaddrinfo(n, None, socket.AF_INET, socket.SOCK_STREAM)})[:4]
    except (OSError, UnicodeError):
        a = []
    print(n, ' '.join(a) or '-')
`;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export const RELAY_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?$/;

/** name → its IPv4 addresses, for the names asked only; anything else on a line makes that name unresolved. */
export function parseResolveOutput(text: string, names: readonly string[]): Map<string, string[]> {
  const asked = new Set(names);
  const out = new Map<string, string[]>();
  for (const line of text.split('\n').slice(0, names.length + 1)) {
    const [name, ...addrs] = line.split(' ');
    if (!name || !asked.has(name) || out.has(name)) continue;
    if (addrs.length === 1 && addrs[0] === '-') out.set(name, []);
    else if (addrs.length >= 1 && addrs.length <= 4 && addrs.every((a) => IPV4.test(a))) out.set(name, addrs);
  }
  return out;
}
