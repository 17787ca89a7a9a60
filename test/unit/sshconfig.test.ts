import { describe, expect, it } from 'vitest';
import { appendHostBlock, parseRegistryConfig, removeHostBlock, renderHostBlock } from '../../daemon/core/registry/sshconfig.js';

const TOWEROS = `Host router
  Hostname 192.168.2.1
  User alice
  IdentityFile ~/.local/tower/hosts/router/id_ed25519
  LogLevel FATAL
  ConnectTimeout 1

Host office
  Hostname 192.168.3.200
  User alice
  IdentityFile ~/.local/tower/hosts/office/id_ed25519
  LogLevel FATAL
  ConnectTimeout 1
`;

describe('registry ssh config', () => {
  it('reads TowerOS blocks, any keyword case and = syntax', () => {
    const hosts = parseRegistryConfig(TOWEROS + '\nhost web\n  HOSTNAME=192.168.2.200\n  user "bob smith"\n');
    expect(hosts.map((h) => [h.name, h.hostName, h.user, h.identityFile])).toEqual([
      ['router', '192.168.2.1', 'alice', '~/.local/tower/hosts/router/id_ed25519'],
      ['office', '192.168.3.200', 'alice', '~/.local/tower/hosts/office/id_ed25519'],
      ['web', '192.168.2.200', 'bob smith', undefined],
    ]);
    expect(hosts[2]!.line).toBe(15);
  });

  it('applies Host * defaults and skips pattern blocks', () => {
    const hosts = parseRegistryConfig('Host a\n  HostName 192.168.2.200\nHost *\n  User carol\nHost b?\n  User x\n');
    expect(hosts).toHaveLength(1);
    expect(hosts[0]!.user).toBe('carol');
  });

  it('removes one block and keeps the rest byte for byte', () => {
    const text = '# my notes\n' + TOWEROS + '\n# trailing comment kept\nHost *\n  ServerAliveInterval 5\n';
    const out = removeHostBlock(text, 'router')!;
    expect(out).toBe(text.replace(/Host router\n(.*\n){6}/, ''));
    expect(parseRegistryConfig(out).map((h) => h.name)).toEqual(['office']);
    expect(removeHostBlock(text, 'nope')).toBeNull();
  });

  it('appends rendered blocks that parse back', () => {
    const block = renderHostBlock({ name: 'web', hostName: '192.168.2.201', user: 'alice', identityFile: '/home/a b/id' });
    const text = appendHostBlock(TOWEROS, block);
    const web = parseRegistryConfig(text).find((h) => h.name === 'web')!;
    expect(web).toMatchObject({ hostName: '192.168.2.201', user: 'alice', identityFile: '/home/a b/id' });
    expect(() => renderHostBlock({ name: 'x', hostName: '1.2.3.4', user: 'a"b', identityFile: '/x' })).toThrow();
  });
});
