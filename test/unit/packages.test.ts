import { describe, expect, it } from 'vitest';
import { apkArgv } from '../../daemon/packages/command.js';
import { RelayAuditLog } from '../../daemon/packages/audit.js';
import { PackageName, packageMethods } from '../../protocol/packages.js';

describe('package commands', () => {
  const real = { privilege: ['sudo'], apk: ['apk'] };

  it('offline hosts get the relay for this one command only, through env after the privilege prefix', () => {
    expect(apkArgv(real, 'add', ['firefox', 'libreoffice'], { proxyUrl: 'http://127.0.0.1:41234', progress: true })).toEqual([
      'sudo', 'env', 'http_proxy=http://127.0.0.1:41234', 'https_proxy=http://127.0.0.1:41234', 'apk', '--progress', 'add', 'firefox', 'libreoffice',
    ]);
  });

  it('online hosts go out directly; upgrade without names upgrades everything', () => {
    expect(apkArgv(real, 'upgrade', [], { progress: false })).toEqual(['sudo', 'apk', 'upgrade']);
    expect(apkArgv(real, 'del', ['vim'], { progress: false })).toEqual(['sudo', 'apk', 'del', 'vim']);
  });

  it.each(['firefox', 'py3-pip', 'gtk+3.0', 'lib_x', 'a'])('accepts package name %s', (n) => expect(PackageName.safeParse(n).success).toBe(true));
  it.each(['', '-rf', '--allow-untrusted', 'Firefox', 'a b', 'a;b', '$(id)', 'x'.repeat(101)])('refuses package name %j', (n) =>
    expect(PackageName.safeParse(n).success).toBe(false),
  );

  it('add and del need names; upgrade does not', () => {
    const p = packageMethods['packages.run'].params;
    expect(p.safeParse({ host: 'vault', action: 'add', packages: [] }).success).toBe(false);
    expect(p.safeParse({ host: 'vault', action: 'upgrade', packages: [] }).success).toBe(true);
  });

  it('the audit log counts per host and keeps the most recent records first', () => {
    const log = new RelayAuditLog(2);
    log.record({ host: 'vault', kind: 'fetch', method: 'GET', target: 'a', status: 200, bytes: 10, sent: 40 }, 1);
    log.record({ host: 'vault', kind: 'refused', method: 'GET', target: 'b', bytes: 0, sent: 0, reason: 'no' }, 2);
    log.record({ host: 'vault', kind: 'fetch', method: 'GET', target: 'c', status: 200, bytes: 5, sent: 2 }, 3);
    log.record({ host: 'notes', kind: 'failed', method: 'GET', target: 'd', bytes: 0, sent: 0, reason: 'router offline' }, 4);
    const [vault] = log.summary('vault', 10);
    expect(vault).toMatchObject({ fetches: 2, bytes: 15, sent: 42, refusals: 1, failures: 0 });
    expect(vault!.recent.map((r) => r.target)).toEqual(['c', 'b']);
    expect(log.summary(undefined, 1).map((h) => h.name)).toEqual(['vault', 'notes']);
  });
});
