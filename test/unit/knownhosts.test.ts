import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keysFor, lookupName, pinHostKeys, removeHostEntries } from '../../daemon/registry/knownhosts.js';

const K1 = 'AAAAC3NzaC1lZDI1NTE5AAAAIKS4bsNVrCI782R9ftlic6B/aBeKSQ0GuYu3xHUDmg3L';
const K2 = 'AAAAC3NzaC1lZDI1NTE5AAAAID/Yu18JiLJ8+YawJC50lOoFv77hbWxF94Q6JLlTbydm';
const K3 = 'AAAAC3NzaC1lZDI1NTE5AAAAIJLfE5NtznONT8sBceal/9hHkgUPiz+PltIpxIVuM5H6';

/** Hash lines the way OpenSSH does, with the real ssh-keygen. */
function hashWithSshKeygen(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kh-'));
  const f = join(dir, 'known_hosts');
  writeFileSync(f, text);
  execFileSync('ssh-keygen', ['-H', '-f', f], { stdio: 'ignore' });
  return readFileSync(f, 'utf8');
}

describe('known_hosts', () => {
  it('finds plain, wildcard and ssh-keygen-hashed entries, honours @revoked and negation', () => {
    const hashed = hashWithSshKeygen(`192.168.2.200 ssh-ed25519 ${K1}\n[192.168.2.9]:2222 ssh-ed25519 ${K3}\n`);
    expect(hashed).toMatch(/^\|1\|/);
    const text = `${hashed}192.168.3.* ssh-ed25519 ${K2}\n@revoked * ssh-ed25519 ${K3}\n192.168.3.*,!192.168.3.250 ssh-ed25519 ${K1}\n`;
    expect([...keysFor(text, ['192.168.2.200']).trusted]).toEqual([K1]);
    expect([...keysFor(text, ['192.168.3.201']).trusted].sort()).toEqual([K2, K1].sort());
    expect([...keysFor(text, ['192.168.3.250']).trusted]).toEqual([K2]);
    expect(keysFor(text, [lookupName('192.168.2.9', 2222)]).trusted.size).toBe(0); // K3 is revoked everywhere
    expect(keysFor(text, [lookupName('192.168.2.9', 2222)]).revoked.has(K3)).toBe(true);
  });

  it('removes only the host’s own entries, hashed ones too, and leaves wildcards and other hosts', () => {
    const hashed = hashWithSshKeygen(`192.168.2.200 ssh-ed25519 ${K1}\n`);
    const text = `# keep me\n192.168.2.201 ssh-ed25519 ${K2}\n${hashed}web,192.168.2.200,other ssh-ed25519 ${K3}\n192.168.2.* ssh-ed25519 ${K2}\n192.168.2.2000 ssh-ed25519 ${K1}\n`;
    const { text: out, removed } = removeHostEntries(text, ['192.168.2.200', 'web']);
    expect(removed).toBe(2);
    expect(out).toBe(`# keep me\n192.168.2.201 ssh-ed25519 ${K2}\nother ssh-ed25519 ${K3}\n192.168.2.* ssh-ed25519 ${K2}\n192.168.2.2000 ssh-ed25519 ${K1}\n`);
  });

  it('pins keys and replaces stale ones for that host', () => {
    const out = pinHostKeys(`192.168.2.200 ssh-ed25519 ${K2}\n192.168.2.201 ssh-ed25519 ${K2}`, '192.168.2.200', [`ssh-ed25519 ${K1} comment`]);
    expect(out).toBe(`192.168.2.201 ssh-ed25519 ${K2}\n192.168.2.200 ssh-ed25519 ${K1}\n`);
    expect([...keysFor(out, ['192.168.2.200']).trusted]).toEqual([K1]);
  });
});
