// The posture audit on real lab hosts (Alpine-like profile: busybox, doas, python3, TowerOS's firewall in nft):
// towerd audits every host after it connects; then one host of each network has its firewall opened (the offline
// host gets one accept rule for all egress, the online host one for another online host) and a tower.env is left
// on a third host's boot media, and one `towerctl audit` run flags all three, which `towerctl status --json`, the
// `host.posture` events and `towerctl bar` then show. Every probe target is a lab address: the registry's hosts, the
// thin client's lab addresses, and the relay host resolved on the lab router to the lab's internet namespace.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Event, HostAudit, Status } from '../../protocol/index.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { TOWERCTL, towerctl } from '../helpers/towerd.js';
import { until } from '../helpers/until.js';
import { resolveOnHost } from '../lab/alpine/dns.js';
import { defaultProfile } from '../lab/profile.js';

// sshd -T needs root through the privilege command: TowerOS's doas is on the Alpine-like profile only
const root = process.getuid?.() === 0 && defaultProfile() === 'alpine';
let t: LabDaemon;

const SETTINGS = { audit: { settleMs: 0, connectTimeoutMs: 1000, sshdConfig: '/run/lab/sshd_config', bootMounts: ['/run/lab'] } };

beforeAll(async () => {
  if (!root) return;
  t = await labDaemon('au', { online: 2, offline: 2 }, SETTINGS);
  await resolveOnHost(t.lab, 'router');
}, 60_000);

afterAll(async () => {
  await t?.close();
});

const byName = (results: HostAudit[], name: string) => results.find((a) => a.name === name)!;
const openChecks = (a: HostAudit) => a.checks.filter((c) => c.status === 'open').map((c) => `${c.check} ${c.target}`);

/** The first status line `towerctl bar` prints, parsed. */
function firstBarLine(format: 'i3bar' | 'waybar'): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [TOWERCTL, 'bar', '--format', format], { env: { ...t.d.env, NO_COLOR: '1' } });
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`no status line from towerctl bar: ${out}`));
    }, 10_000);
    proc.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const lines = out.split('\n').slice(0, -1).filter((l) => l.startsWith('[{') || l.startsWith(',[{') || l.startsWith('{"text"'));
      if (lines.length) {
        clearTimeout(timer);
        proc.kill('SIGTERM');
        resolve(lines[0]!.replace(/^,/, ''));
      }
    });
  });
}

describe.skipIf(!root)('towerctl audit (lab)', () => {
  it('audits every host after it connects, and a TowerOS-shaped lab passes', async () => {
    await until('every host audited after connecting', async () => (await t.client.call('status')).hosts.every((h) => h.posture !== undefined), 30_000);
    const r = await towerctl(t.d, ['audit', '--json']);
    const results = JSON.parse(r.stdout) as HostAudit[];
    expect(results.map((a) => [a.name, a.posture, openChecks(a)])).toEqual(['router', 'off1', 'off2', 'on1', 'on2'].map((n) => [n, 'ok', []]));
    expect(r.code).toBe(0);
    const on1 = byName(results, 'on1');
    // the online host reaches the lab internet through the router (nothing listens there: a reset is an answer)
    expect(on1.checks.filter((c) => c.check === 'internet (relay host)').map((c) => [c.target, c.status])).toEqual([
      ['dl-cdn.alpinelinux.org 10.90.0.2:80', 'ok'],
      ['dl-cdn.alpinelinux.org 10.90.0.2:443', 'ok'],
    ]);
    // its own firewall refuses the datagram to another online host, and the connect gets no answer
    expect(on1.checks.find((c) => c.check === 'online host on2')).toMatchObject({ target: '192.168.2.201:22', seen: 'tcp timeout, udp blocked', status: 'ok' });
    expect(byName(results, 'off1').checks.find((c) => c.check === 'router')).toMatchObject({ seen: 'tcp unreachable, udp unreachable', status: 'ok' });
    expect(on1.checks.filter((c) => c.check.startsWith('sshd ')).map((c) => `${c.check}=${c.seen}`)).toEqual([
      'sshd passwordauthentication=no',
      'sshd kbdinteractiveauthentication=no',
      'sshd permitrootlogin=no',
      'sshd permitemptypasswords=no',
    ]);
    expect(on1.checks.find((c) => c.check === 'left on boot media')).toMatchObject({ seen: 'none in /run/lab', status: 'ok' });
  }, 60_000);

  it('one run flags an opened offline host, an online host that reaches another host, and a tower.env left behind', async () => {
    const events: Event[] = [];
    await t.client.subscribe(['hosts'], (e) => events.push(e));
    const nft = async (host: string, rule: string[]) => {
      const r = await t.lab.execHost(host, ['nft', ...rule]);
      expect(r.code, r.stderr).toBe(0);
    };
    await nft('off1', ['add', 'rule', 'inet', 'tower', 'lab_output', 'accept']);
    await nft('on1', ['insert', 'rule', 'inet', 'tower', 'lab_output', 'ip', 'daddr', '192.168.2.201', 'accept']);
    const left = await t.lab.execHost('off2', ['sh', '-c', "printf \"HOSTNAME='off2'\\n\" > /run/lab/tower.env"]);
    expect(left.code, left.stderr).toBe(0);

    const r = await towerctl(t.d, ['audit']);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toMatch(/off1 +thin client \(own network\) +192\.168\.3\.100:22 +nothing leaves +tcp refused, udp sent +OPEN/);
    expect(r.stdout).toMatch(/off1 +offline host off2 +192\.168\.3\.201:22 +nothing leaves +tcp refused, udp sent +OPEN/);
    expect(r.stdout).toMatch(/on1 +online host on2 +192\.168\.2\.201:22 +nothing leaves +tcp refused, udp sent +OPEN/);
    expect(r.stdout).toMatch(/off2 +left on boot media +\/run\/lab\/tower\.env +absent +present +OPEN/);
    for (const line of ['router: ok', 'on1: OPEN', 'on2: ok', 'off1: OPEN', 'off2: OPEN']) expect(r.stdout).toContain(line);

    const status = JSON.parse((await towerctl(t.d, ['status', '--json'])).stdout) as Status;
    expect(Object.fromEntries(status.hosts.map((h) => [h.name, h.posture]))).toEqual({ router: 'ok', on1: 'open', on2: 'ok', off1: 'open', off2: 'open' });

    await until('host.posture events', () => ['on1', 'off1', 'off2'].every((n) => events.some((e) => e.type === 'host.posture' && e.host.name === n && e.audit.posture === 'open')));
    const on1 = events.find((e) => e.type === 'host.posture' && e.host.name === 'on1');
    expect(on1?.type === 'host.posture' && on1.host.posture).toBe('open');

    const blocks = JSON.parse(await firstBarLine('i3bar')) as { instance?: string; full_text: string }[];
    const text = (n: string) => blocks.find((b) => b.instance === n)!.full_text;
    expect(blocks[0]!.full_text).toContain('⚑ 3 open');
    for (const n of ['on1', 'off1', 'off2']) expect(text(n)).toMatch(/<span foreground="#e5c07b">⚑ open<\/span>$/);
    for (const n of ['router', 'on2']) expect(text(n)).not.toContain('⚑');
    const waybar = JSON.parse(await firstBarLine('waybar')) as { text: string; class: string[] };
    expect(waybar.class).toContain('posture-open');
    expect(waybar.text).toContain('⚑3');
  }, 60_000);
});
