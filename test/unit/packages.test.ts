import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { apkArgv, privilegeMissing, privilegeMissingMessage, privilegeProbe } from '../../daemon/features/packages/command.js';
import { shellJoin } from '../../daemon/core/util/shell.js';
import { RelayTrail, auditTarget } from '../../daemon/features/packages/relay/trail.js';
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
    const log = new RelayTrail(2);
    log.record({ host: 'vault', kind: 'fetch', method: 'GET', target: 'a', status: 200, bytes: 10, sent: 40 }, 1);
    log.record({ host: 'vault', kind: 'refused', method: 'GET', target: 'b', bytes: 0, sent: 0, reason: 'no' }, 2);
    log.record({ host: 'vault', kind: 'fetch', method: 'GET', target: 'c', status: 200, bytes: 5, sent: 2 }, 3);
    log.record({ host: 'notes', kind: 'failed', method: 'GET', target: 'd', bytes: 0, sent: 0, reason: 'router offline' }, 4);
    const [vault] = log.summary('vault', 10);
    expect(vault).toMatchObject({ fetches: 2, bytes: 15, sent: 42, refusals: 1, failures: 0 });
    expect(vault!.recent.map((r) => r.target)).toEqual(['c', 'b']);
    expect(log.summary(undefined, 1).map((h) => h.name)).toEqual(['vault', 'notes']);
  });

  it('the audit keeps a target with control and non-ASCII bytes percent-encoded', () => {
    const log = new RelayTrail();
    const target = 'http://dl-cdn.alpinelinux.org/v3.19/\x1b]52;c;aGk=\x07\x9bé x';
    expect(log.record({ host: 'vault', kind: 'refused', method: 'GET', target, bytes: 0, sent: 0, reason: 'no' }, 1).target).toBe(
      'http://dl-cdn.alpinelinux.org/v3.19/%1B]52;c;aGk=%07%C2%9B%C3%A9%20x',
    );
    expect(log.summary('vault', 1)[0]!.recent[0]!.target).toBe('http://dl-cdn.alpinelinux.org/v3.19/%1B]52;c;aGk=%07%C2%9B%C3%A9%20x');
    expect(auditTarget('http://dl-cdn.alpinelinux.org/v3.19/main/x86_64/APKINDEX.tar.gz?a=%41')).toBe('http://dl-cdn.alpinelinux.org/v3.19/main/x86_64/APKINDEX.tar.gz?a=%41');
  });

  describe('a host without the privilege command', () => {
    const missing = { privilege: ['tower-no-such-sudo'], apk: ['apk'] };
    /** what the host's login shell does with the command line towerd sends */
    const onHost = (shell: string, argv: string[]) => {
      const r = spawnSync(shell, ['-c', shellJoin(argv)], { encoding: 'utf8' });
      return { code: r.status, stderr: r.stderr };
    };

    it.each(['/bin/sh', '/bin/bash'])('%s: the check before apk fails, and a run that fails that way is recognised', (shell) => {
      expect(onHost(shell, privilegeProbe(missing)!).code).not.toBe(0);
      expect(onHost(shell, privilegeProbe({ privilege: ['env'] })!).code).toBe(0);
      const r = onHost(shell, apkArgv(missing, 'upgrade', [], { progress: false }));
      expect(r.code).toBe(127);
      expect(r.stderr).toMatch(/tower-no-such-sudo: (command )?not found/);
      expect(privilegeMissing(missing, r)).toBe(true);
      // the privilege command is there and apk is not: that is another failure
      const noApk = onHost(shell, apkArgv({ privilege: ['env'], apk: ['tower-no-such-apk'] }, 'upgrade', [], { progress: false }));
      expect(noApk.code).toBe(127);
      expect(privilegeMissing({ privilege: ['env'] }, noApk)).toBe(false);
      expect(privilegeMissing(missing, { code: 1, stderr: r.stderr })).toBe(false);
    });

    it('recognises the wording of ash, zsh and a missing path, and says which host and what to set', () => {
      expect(privilegeMissing({ privilege: ['sudo'] }, { code: 127, stderr: 'sh: sudo: not found' })).toBe(true);
      expect(privilegeMissing({ privilege: ['sudo'] }, { code: 127, stderr: 'zsh:1: command not found: sudo' })).toBe(true);
      expect(privilegeMissing({ privilege: ['/usr/bin/doas'] }, { code: 127, stderr: 'bash: line 1: /usr/bin/doas: No such file or directory' })).toBe(true);
      expect(privilegeMissing({ privilege: ['sudo'] }, { code: 127, stderr: 'sudo: apk: command not found' })).toBe(false);
      expect(privilegeProbe({ privilege: [] })).toBeUndefined();
      expect(privilegeMissingMessage('office', { privilege: ['sudo'] })).toBe(
        'office has no sudo, the command apk runs under to be root there (packages.privilege in towerd.json is ["sudo"]). ' +
          'Set packages.privilege to the one the host has: TowerOS hosts have doas ("packages": {"privilege": ["doas"]}); ' +
          '[] runs apk as the login user itself. Or install sudo on office.',
      );
    });
  });
});
