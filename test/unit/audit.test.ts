// The posture audit's pure parts: which probes a host gets and what each must see, reading the probe's, sshd's and
// the boot check's output (all untrusted host text), the verdicts, and what towerctl and the bar show of them.
import { spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { i3barBlocks } from '../../client/bar/i3bar.js';
import { applyEvent, fromSnapshot, type BarHost, type UpView } from '../../client/bar/model.js';
import { waybarOutput } from '../../client/bar/waybar.js';
import { auditExitCode, renderAudit } from '../../client/commands/audit.js';
import { postureOf } from '../../daemon/features/audit/auditor.js';
import { bootChecks, parseBootOutput } from '../../daemon/features/audit/boot.js';
import { PROBE_SCRIPT, judge, parseProbeOutput, parseResolveOutput, probeArgs, type Outcome } from '../../daemon/features/audit/probe.js';
import { parseSshdT, sshdArgv, sshdChecks } from '../../daemon/features/audit/sshd.js';
import { probesFor, type InternetTarget, type Probe } from '../../daemon/features/audit/targets.js';
import { DEFAULT_SETTINGS } from '../../daemon/core/settings.js';
import type { Host } from '../../daemon/core/registry/registry.js';
import { Event, type HostAudit, type HostInfo } from '../../protocol/index.js';

const color = { code: 31, name: 'Red', hex: '#cd0000' };
const reg = (name: string, role: Host['role'], ip: string): Host => ({ name, role, ip, network: '', user: 'u', identityFile: '', color, version: null });
const HOSTS = [reg('router', 'router', '192.168.2.1'), reg('on1', 'online', '192.168.2.200'), reg('on2', 'online', '192.168.2.201'), reg('off1', 'offline', '192.168.3.200'), reg('off2', 'offline', '192.168.3.201')];
const NET: InternetTarget[] = [{ name: 'dl-cdn.alpinelinux.org', ports: [80, 443], addresses: ['10.90.0.2'] }];
const byName = (n: string) => HOSTS.find((h) => h.name === n)!;
const table = (probes: Probe[]) => probes.map((p) => `${p.check} ${p.label ?? `${p.ip}:${p.port}`} ${p.expect}`);

describe('probe targets', () => {
  it('an offline host: nothing may leave for the thin client, other hosts, the router or the relay host', () => {
    expect(table(probesFor(byName('off1'), HOSTS, DEFAULT_SETTINGS, NET))).toEqual([
      'thin client (own network) 192.168.3.100:22 stays',
      'thin client (other network) 192.168.2.100:22 stays',
      'online host on1 192.168.2.200:22 stays',
      'offline host off2 192.168.3.201:22 stays',
      'router 192.168.2.1:22 stays',
      'internet (relay host) dl-cdn.alpinelinux.org 10.90.0.2:80 stays',
      'internet (relay host) dl-cdn.alpinelinux.org 10.90.0.2:443 stays',
    ]);
  });

  it('an online host: nothing out on its own network, no answer from the offline one, the internet answers', () => {
    expect(table(probesFor(byName('on1'), HOSTS, DEFAULT_SETTINGS, NET))).toEqual([
      'thin client (own network) 192.168.2.100:22 stays',
      'thin client (other network) 192.168.3.100:22 unanswered',
      'online host on2 192.168.2.201:22 stays',
      'offline host off1 192.168.3.200:22 unanswered',
      'router 192.168.2.1:22 any',
      'internet (relay host) dl-cdn.alpinelinux.org 10.90.0.2:80 answers',
      'internet (relay host) dl-cdn.alpinelinux.org 10.90.0.2:443 answers',
    ]);
  });

  it('the router: no answer from the thin client or any host, the internet answers; it does not probe itself', () => {
    const t = table(probesFor(byName('router'), HOSTS, DEFAULT_SETTINGS, NET));
    expect(t.filter((l) => l.startsWith('router'))).toEqual([]);
    expect(t.slice(0, 4).every((l) => l.endsWith('unanswered'))).toBe(true);
    expect(t.slice(4).every((l) => l.endsWith('answers'))).toBe(true);
  });

  it('follows the settings and registry: networks, ssh port, a missing second host, unresolved relay hosts', () => {
    const s = { ...DEFAULT_SETTINGS, networks: { online: '10.1.2.0/24', offline: '10.1.3.0/24' }, thinClientOctet: 50, ssh: { ...DEFAULT_SETTINGS.ssh, port: 2222 } };
    const hosts = [reg('on1', 'online', '10.1.2.200'), reg('off1', 'offline', '10.1.3.200')];
    expect(table(probesFor(hosts[0]!, hosts, s, [{ name: 'x', ports: [80], addresses: null }]))).toEqual([
      'thin client (own network) 10.1.2.50:2222 stays',
      'thin client (other network) 10.1.3.50:2222 unanswered',
      'offline host off1 10.1.3.200:2222 unanswered',
      'router 10.1.2.1:2222 any',
    ]);
  });

  it('asks for a UDP send only where nothing may leave', () => {
    const probes = probesFor(byName('on1'), HOSTS, DEFAULT_SETTINGS, []);
    expect(probeArgs(probes, 1500)).toEqual(['1.500', 'u192.168.2.100:22', 't192.168.3.100:22', 'u192.168.2.201:22', 't192.168.3.200:22', 't192.168.2.1:22']);
  });
});

const hasPython = spawnSync('python3', ['-c', '']).status === 0;

describe.skipIf(!hasPython)('the probe script (python3, loopback only)', () => {
  it('prints one line per target that the parser reads: connected, refused, a sent datagram', async () => {
    const listen = () => new Promise<ReturnType<typeof createServer>>((r) => { const srv = createServer((c) => c.destroy()); srv.listen(0, '127.0.0.1', () => r(srv)); });
    const open = await listen();
    const closed = await listen();
    const port = (srv: ReturnType<typeof createServer>) => (srv.address() as AddressInfo).port;
    const closedPort = port(closed);
    await new Promise((r) => closed.close(r));
    const args = ['-', '1.0', `t127.0.0.1:${port(open)}`, `t127.0.0.1:${closedPort}`, `u127.0.0.1:${closedPort}`];
    // the kernel completes the handshake from the listen backlog, so blocking here while python3 runs is fine
    const { stdout, status } = spawnSync('python3', args, { input: PROBE_SCRIPT, encoding: 'utf8', timeout: 10_000 });
    open.close();
    expect(status).toBe(0);
    expect(parseProbeOutput(stdout, 3)).toEqual([{ tcp: 'connected', udp: 'skip' }, { tcp: 'refused', udp: 'skip' }, { tcp: 'refused', udp: 'sent' }]);
  });
});

describe('reading the probe', () => {
  it('takes exactly one line per target, in order, from a closed set of words', () => {
    expect(parseProbeOutput('0 timeout blocked\n1 refused skip\n', 2)).toEqual([{ tcp: 'timeout', udp: 'blocked' }, { tcp: 'refused', udp: 'skip' }]);
    expect(parseProbeOutput('0 error-EADDRNOTAVAIL sent\n', 1)).toEqual([{ tcp: 'error-EADDRNOTAVAIL', udp: 'sent' }]);
  });

  it.each([
    ['too few lines', '0 timeout blocked\n', 2],
    ['too many lines', '0 timeout blocked\n1 timeout blocked\n', 1],
    ['out of order', '1 timeout blocked\n0 timeout blocked\n', 2],
    ['an unknown word', '0 opened sent\n', 1],
    ['extra words', '0 timeout sent x\n', 1],
    ['escape sequences', '0 timeout \x1b]52;c;aGk=\x07\n', 1],
    ['nothing', '', 1],
  ])('refuses %s', (_what, text, n) => {
    expect(parseProbeOutput(text, n)).toBeNull();
  });

  const p = (expect: Probe['expect']): Probe => ({ check: 'c', ip: '192.168.2.201', port: 22, expect });
  const o = (tcp: string, udp = 'skip'): Outcome => ({ tcp, udp });

  it('nothing leaves: the firewall refusing the datagram and a silent connect pass; a sent datagram or any answer is open', () => {
    expect(judge(p('stays'), o('timeout', 'blocked')).status).toBe('ok');
    expect(judge(p('stays'), o('unreachable', 'unreachable')).status).toBe('ok');
    expect(judge(p('stays'), o('timeout', 'sent'))).toMatchObject({ status: 'open', seen: 'tcp timeout, udp sent' });
    expect(judge(p('stays'), o('refused', 'blocked')).status).toBe('open');
    expect(judge(p('stays'), o('connected', 'blocked')).status).toBe('open');
    expect(judge(p('stays'), o('timeout', 'error-EINVAL')).status).toBe('unknown');
  });

  it('no answer: anything short of a handshake or a reset passes', () => {
    expect(judge(p('unanswered'), o('timeout')).status).toBe('ok');
    expect(judge(p('unanswered'), o('unreachable')).status).toBe('ok');
    expect(judge(p('unanswered'), o('refused'))).toMatchObject({ status: 'open', expect: 'no answer', seen: 'tcp refused' });
  });

  it('an answer: missing is a warning, not open; any is never judged', () => {
    expect(judge(p('answers'), o('connected')).status).toBe('ok');
    expect(judge(p('answers'), o('timeout')).status).toBe('warn');
    expect(judge(p('any'), o('refused')).status).toBe('ok');
  });

  it('reads the router’s resolution for the names asked only, IPv4 only', () => {
    const r = parseResolveOutput('dl-cdn.alpinelinux.org 10.90.0.2\nevil.example 1.2.3.4\nother -\n', ['dl-cdn.alpinelinux.org', 'other']);
    expect([...r]).toEqual([['dl-cdn.alpinelinux.org', ['10.90.0.2']], ['other', []]]);
    expect(parseResolveOutput('a 10.0.0.999\n', ['a']).has('a')).toBe(false);
    expect(parseResolveOutput('a 10.0.0.1 ; rm -rf /\n', ['a']).has('a')).toBe(false);
  });
});

describe('sshd -T', () => {
  const good = 'port 22\npasswordauthentication no\nkbdinteractiveauthentication no\npermitrootlogin no\npermitemptypasswords no\n';

  it('runs sshd under the privilege command with the configured file', () => {
    expect(sshdArgv(['doas'], null)).toEqual(['doas', '/usr/sbin/sshd', '-T']);
    expect(sshdArgv(['sudo'], '/run/lab/sshd_config')).toEqual(['sudo', '/usr/sbin/sshd', '-T', '-f', '/run/lab/sshd_config']);
  });

  it('passes TowerOS’s hardening and flags passwords, root login and anything missing', () => {
    expect(sshdChecks(parseSshdT(good)).every((c) => c.status === 'ok')).toBe(true);
    const bad = sshdChecks(parseSshdT(good.replace('passwordauthentication no', 'passwordauthentication yes').replace('permitrootlogin no', 'permitrootlogin prohibit-password')));
    expect(bad.filter((c) => c.status === 'open').map((c) => `${c.check}=${c.seen}`)).toEqual(['sshd passwordauthentication=yes', 'sshd permitrootlogin=prohibit-password']);
    expect(sshdChecks(parseSshdT('port 22\n')).every((c) => c.status === 'unknown')).toBe(true);
  });

  it('takes the first value of a keyword and ignores lines that are not `keyword value`', () => {
    const m = parseSshdT('passwordauthentication no\npasswordauthentication yes\nPermitRootLogin yes\n' + 'x'.repeat(1000) + '\n');
    expect([...m]).toEqual([['passwordauthentication', 'no']]);
  });
});

describe('boot media', () => {
  const mounts = ['/media/usb', '/run/lab'];

  it('believes only the paths it asked about', () => {
    const r = parseBootOutput('mounted /run/lab\nfound /run/lab/tower.env\nfound /etc/shadow\nmounted /elsewhere\nfound /crypto_keyfile.bin\n', mounts);
    expect(r).toEqual({ mounted: ['/run/lab'], found: ['/run/lab/tower.env', '/crypto_keyfile.bin'] });
  });

  it('one open check per file left, else one ok check saying where it looked', () => {
    expect(bootChecks({ mounted: ['/run/lab'], found: ['/run/lab/tower.env', '/crypto_keyfile.bin'] }).map((c) => `${c.check}: ${c.target} ${c.status}`)).toEqual([
      'left on boot media: /run/lab/tower.env open',
      'left on the root file system: /crypto_keyfile.bin open',
    ]);
    expect(bootChecks({ mounted: [], found: [] })).toMatchObject([{ status: 'ok', seen: 'boot partition not mounted' }]);
    expect(bootChecks({ mounted: ['/run/lab'], found: [] })).toMatchObject([{ status: 'ok', seen: 'none in /run/lab' }]);
  });
});

const audit = (name: string, posture: HostAudit['posture'], checks: HostAudit['checks'] = [], error: string | null = null): HostAudit => ({
  name,
  posture,
  at: '2026-12-04T03:00:00.000Z',
  durationMs: 1600,
  trigger: 'manual',
  error,
  checks,
});

describe('posture and what shows it', () => {
  const open = { check: 'online host on2', target: '192.168.2.201:22', expect: 'nothing leaves', seen: 'tcp refused, udp sent', status: 'open' as const };
  const ok = { ...open, seen: 'tcp timeout, udp blocked', status: 'ok' as const };

  it('open beats unknown beats ok; a host that could not be audited is unknown', () => {
    expect(postureOf([ok, { ...ok, status: 'unknown' }, open], null)).toBe('open');
    expect(postureOf([ok, { ...ok, status: 'unknown' }], null)).toBe('unknown');
    expect(postureOf([ok, { ...ok, status: 'warn' }], null)).toBe('ok');
    expect(postureOf([], 'on1 is not connected (offline)')).toBe('unknown');
  });

  it('towerctl audit: a row per check, a line per host, exit 4 unless every host is ok', () => {
    const results = [audit('on1', 'open', [open]), audit('on2', 'ok', [ok]), audit('off9', 'unknown', [], 'off9 is not connected (offline)')];
    const out = renderAudit(results);
    expect(out).toMatch(/^HOST +CHECK +TARGET +EXPECT +SEEN +RESULT/);
    expect(out).toMatch(/on1 +online host on2 +192\.168\.2\.201:22 +nothing leaves +tcp refused, udp sent +OPEN/);
    expect(out).toContain('on1: OPEN (1 open, 1.6s)');
    expect(out).toContain('off9: unknown (not audited');
    expect(auditExitCode(results)).toBe(4);
    expect(auditExitCode([results[1]!])).toBe(0);
    expect(renderAudit([audit('x', 'open', [{ ...open, seen: 'tcp \x1b[2J' }])])).toContain('tcp \\x1b[2J');
  });

  const barHost = (name: string, posture?: HostInfo['posture']): BarHost => ({ name, role: 'online', color, state: 'online', rttMs: 0.5, lastError: null, ...(posture ? { posture } : {}) });

  it('the bar marks an open host and counts it in the summary, from a snapshot and from a host.posture event', () => {
    const view = fromSnapshot({ hosts: [barHost('on1'), barHost('on2', 'ok')], registry: { ok: true, error: null } });
    expect(i3barBlocks(view)[1]!.full_text).not.toContain('⚑');
    const info: HostInfo = { ...barHost('on1', 'open'), ip: '192.168.2.200', network: '192.168.2.0/24', user: 'u', identityFile: '/k', lastContact: null, version: null };
    const e = Event.parse({ type: 'host.posture', topic: 'hosts', host: info, audit: audit('on1', 'open', [open]) });
    const next = applyEvent(view, e) as UpView;
    const blocks = i3barBlocks(next);
    expect(blocks[0]!.full_text).toContain('⚑ 1 open');
    expect(blocks[1]!.full_text).toMatch(/<span foreground="#e5c07b">⚑ open<\/span>$/);
    expect(blocks[2]!.full_text).not.toContain('⚑');
    const w = waybarOutput(next);
    expect(w.class).toContain('posture-open');
    expect(w.text).toContain('⚑1');
    expect(w.tooltip).toContain('⚑ open');
  });
});
