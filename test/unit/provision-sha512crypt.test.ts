import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SHA512_CRYPT_RE } from '../../protocol/provision.js';
import { HOST_PASSWORD_ROUNDS, hashPassword, parseSetting, randomPassword, randomSalt, sha512Crypt } from '../../daemon/shared/sha512crypt.js';

// Ulrich Drepper, "Unix crypt using SHA-256 and SHA-512", test vectors for SHA-512
const VECTORS: [string, string, string][] = [
  ['$6$saltstring', 'Hello world!', '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'],
  ['$6$rounds=10000$saltstringsaltstring', 'Hello world!', '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.'],
  ['$6$rounds=5000$toolongsaltstring', 'This is just a test', '$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0'],
  [
    '$6$rounds=1400$anotherlongsaltstring',
    'a very much longer text to encrypt.  This one even stretches over morethan one line.',
    '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1',
  ],
  ['$6$rounds=77777$short', 'we have a short salt string but not a short password', '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0'],
  ['$6$rounds=123456$asaltof16chars..', 'a short string', '$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1'],
  // the empty password, as glibc/libxcrypt compute it
  ['$6$abc', '', '$6$abc$mJP3a6FyA8uCnzRtlnNypPwjnvpi5TP9qOrInzrfDmwxUQG38PkpCPdqfTb8JQfAngapMxeim4AZ..hSdRRzD.'],
  ['$6$rounds=10$roundstoolow', 'the minimum number is still observed', '$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.'],
];

/** `openssl passwd -6`, the password on stdin (never in argv). */
function openssl(password: string, salt: string): string | undefined {
  const r = spawnSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: `${password}\n`, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Python's crypt module (libxcrypt), when this Python still has it. */
function pythonCrypt(password: string, setting: string): string | undefined {
  const r = spawnSync('python3', ['-W', 'ignore', '-c', 'import crypt,sys; d=sys.stdin.read().split("\\0"); print(crypt.crypt(d[0], d[1]))'], {
    input: `${password}\0${setting}`,
    encoding: 'utf8',
  });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

describe('sha512-crypt', () => {
  it.each(VECTORS)('Drepper vector %s', (setting, password, expected) => {
    expect(sha512Crypt(password, setting)).toBe(expected);
  });

  it('agrees with openssl passwd -6 on awkward passwords', () => {
    const probe = openssl('x', 'probe');
    if (probe === undefined) return; // openssl is in scripts/system-deps.sh; without it this check is skipped
    // (openssl -stdin reads an empty line as no password at all; the empty password is a vector above)
    const passwords = ['a', "it's \"quoted\" $HOME \\n", 'ünïcødé ☕', 'x'.repeat(64), 'y'.repeat(65), 'z'.repeat(200), ' leading and trailing '];
    for (const pw of passwords) {
      const salt = randomSalt();
      expect(sha512Crypt(pw, `$6$${salt}`), JSON.stringify(pw)).toBe(openssl(pw, salt));
    }
  });

  it('agrees with libxcrypt (python3 crypt) with rounds', () => {
    const setting = `$6$rounds=${HOST_PASSWORD_ROUNDS}$${randomSalt()}`;
    const theirs = pythonCrypt('pa$$ w0rd "x"', setting);
    if (theirs === undefined) return; // Python ≥ 3.13 has no crypt module
    expect(sha512Crypt('pa$$ w0rd "x"', setting)).toBe(theirs);
  });

  it('hashPassword makes a salted hash with passlib’s rounds that verifies', () => {
    const h = hashPassword('correct horse', 5000);
    expect(h).toMatch(SHA512_CRYPT_RE);
    expect(sha512Crypt('correct horse', h)).toBe(h);
    expect(sha512Crypt('wrong horse', h)).not.toBe(h);
    expect(hashPassword('correct horse', 5000)).not.toBe(h); // a fresh salt each time
    expect(parseSetting(hashPassword('x')).rounds).toBe(656_000);
  });

  it('random passwords are 16 bytes of base64url, like secrets.token_urlsafe(16)', () => {
    const a = randomPassword();
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(randomPassword()).not.toBe(a);
  });

  it('parses settings as crypt(3) does', () => {
    expect(parseSetting('$6$rounds=1000000000$abc$xyz')).toEqual({ salt: 'abc', rounds: 999_999_999, roundsExplicit: true });
    expect(parseSetting('$6$abcdefghijklmnopqrstuvwxyz')).toEqual({ salt: 'abcdefghijklmnop', rounds: 5000, roundsExplicit: false });
    expect(() => parseSetting('$5$abc')).toThrow(/not a sha512-crypt/);
  });
});
