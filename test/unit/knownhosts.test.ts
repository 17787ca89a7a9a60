import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keysFor, lookupName, pinHostKeys, removeHostEntries } from '../../daemon/core/registry/knownhosts.js';
import { checkHostKey, pinnedKeys } from '../../daemon/core/ssh/hostkey.js';

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
  it('trusts plain and ssh-keygen-hashed entries that name the address, honours @revoked', () => {
    const hashed = hashWithSshKeygen(`192.168.2.200 ssh-ed25519 ${K1}\n[192.168.2.9]:2222 ssh-ed25519 ${K3}\n[192.168.2.8]:2222 ssh-ed25519 ${K2}\n`);
    expect(hashed).toMatch(/^\|1\|/);
    const text = `${hashed}@revoked * ssh-ed25519 ${K3}\n192.168.3.201,office ssh-ed25519 ${K2}\n`;
    expect([...keysFor(text, '192.168.2.200').trusted]).toEqual([K1]);
    expect([...keysFor(text, lookupName('192.168.2.8', 2222)).trusted]).toEqual([K2]);
    // a plain address is what OpenSSH looks up for port 22 only
    expect(keysFor(text, lookupName('192.168.2.200', 2222)).trusted.size).toBe(0);
    expect(keysFor(text, lookupName('192.168.2.9', 2222)).trusted.size).toBe(0); // K3 is revoked everywhere
    expect(keysFor(text, lookupName('192.168.2.9', 2222)).revoked.has(K3)).toBe(true);
    // one line may name the address among other names
    expect([...keysFor(text, '192.168.3.201').trusted]).toEqual([K2]);
    expect(keysFor(text, '192.168.3.20').trusted.size).toBe(0);
  });

  it('does not trust keys under the bare name, under patterns, or on lines a negation vetoes', () => {
    const hashedName = hashWithSshKeygen(`office ssh-ed25519 ${K3}\n`);
    const text = [
      `office ssh-ed25519 ${K1}`,
      `192.168.3.* ssh-ed25519 ${K2}`,
      `192.168.3.2?? ssh-ed25519 ${K2}`,
      `*,!192.168.3.250 ssh-ed25519 ${K3}`,
      `192.168.3.250,!192.168.3.25* ssh-ed25519 ${K1}`,
      hashedName.trim(),
      '',
    ].join('\n');
    const v = keysFor(text, '192.168.3.200', ['office']);
    expect(v.trusted.size).toBe(0);
    // every one of them would do for OpenSSH: they are counted, so that the refusal can say why
    expect(v.ignored).toBe(5);
    expect(keysFor(text, '192.168.3.250', ['office']).trusted.size).toBe(0);
  });

  it('revokes under the name and under patterns too', () => {
    const text = `192.168.3.200 ssh-ed25519 ${K1}\n192.168.3.200 ssh-ed25519 ${K2}\n@revoked office ssh-ed25519 ${K1}\n@revoked 192.168.3.2* ssh-ed25519 ${K2}\n`;
    const v = keysFor(text, '192.168.3.200', ['office']);
    expect(v.trusted.size).toBe(0);
    expect([...v.revoked].sort()).toEqual([K1, K2].sort());
    expect([...keysFor(text, '192.168.3.200').trusted]).toEqual([K1]);
  });

  it('a refusal names the address and the entries that did not count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kh-'));
    const f = join(dir, 'known_hosts');
    writeFileSync(f, `office ssh-ed25519 ${K1}\n192.168.3.* ssh-ed25519 ${K2}\n`);
    const pinned = await pinnedKeys(f, '192.168.3.200', 'office');
    expect(pinned.trusted.size).toBe(0);
    expect(checkHostKey(pinned, Buffer.from(K1, 'base64'))).toEqual({
      ok: false,
      reason: 'no host key is pinned for 192.168.3.200 in known_hosts (Tower never trusts on first use; 2 entries match it only by name or pattern, which Tower does not trust)',
    });
    writeFileSync(f, `192.168.3.200 ssh-ed25519 ${K1}\n`);
    expect(checkHostKey(await pinnedKeys(f, '192.168.3.200', 'office'), Buffer.from(K1, 'base64'))).toEqual({ ok: true });
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
    expect([...keysFor(out, '192.168.2.200').trusted]).toEqual([K1]);
  });

  it('pinning also removes entries under the host’s name, and keeps patterns and other hosts', () => {
    const hashedName = hashWithSshKeygen(`office ssh-ed25519 ${K3}\n`);
    const before = `office ssh-ed25519 ${K2}\n${hashedName}office,notes ssh-ed25519 ${K2}\n192.168.3.* ssh-ed25519 ${K3}\nofficer ssh-ed25519 ${K3}\n`;
    const out = pinHostKeys(before, '192.168.3.200', [`ssh-ed25519 ${K1}`], ['office']);
    expect(out).toBe(`notes ssh-ed25519 ${K2}\n192.168.3.* ssh-ed25519 ${K3}\nofficer ssh-ed25519 ${K3}\n192.168.3.200 ssh-ed25519 ${K1}\n`);
  });
});
