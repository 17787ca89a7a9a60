import { createHash, randomBytes } from 'node:crypto';

/**
 * SHA-512 crypt ("$6$"), as specified by Ulrich Drepper ("Unix crypt using SHA-256 and SHA-512", 2007) and
 * implemented by glibc, musl (Alpine: the hosts check it at login) and passlib (TowerOS wrote it with passlib).
 * In-process, so the password never appears in a process argument list (as `openssl passwd -6 PW` would put it).
 */

const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const ROUNDS_DEFAULT = 5000;
export const ROUNDS_MIN = 1000;
export const ROUNDS_MAX = 999_999_999;
const SALT_MAX = 16;

/** Byte order of the final encoding: 21 groups of three bytes, then the last byte alone. */
const ORDER: [number, number, number][] = [];
for (let i = 0; i < 21; i++) {
  // the spec's table: (0,21,42), (22,43,1), (44,2,23), … rotating through the three thirds of the digest
  const a = i;
  const b = i + 21;
  const c = i + 42;
  ORDER.push(i % 3 === 0 ? [a, b, c] : i % 3 === 1 ? [b, c, a] : [c, a, b]);
}

function b64From24(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = '';
  for (let i = 0; i < n; i++) {
    out += ALPHABET[w & 0x3f];
    w >>>= 6;
  }
  return out;
}

function sha512(...parts: Buffer[]): Buffer {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** `len` bytes made of `block` repeated (the spec's P and S sequences). */
function repeatTo(block: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i += block.length) block.copy(out, i, 0, Math.min(block.length, len - i));
  return out;
}

export interface Sha512CryptSetting {
  salt: string;
  rounds: number;
  /** whether `rounds=N$` appears in the output (it does whenever the setting named it, even 5000) */
  roundsExplicit: boolean;
}

/** Parse `$6$[rounds=N$]salt[$…]` as crypt(3) does: the salt stops at `$` or after 16 characters. */
export function parseSetting(setting: string): Sha512CryptSetting {
  if (!setting.startsWith('$6$')) throw new Error('not a sha512-crypt setting ($6$…)');
  let rest = setting.slice(3);
  let rounds = ROUNDS_DEFAULT;
  let roundsExplicit = false;
  const m = /^rounds=(\d+)\$/.exec(rest);
  if (m) {
    const n = Number(m[1]);
    // Drepper's spec clamps out-of-range values; refusing them instead (as libxcrypt does) would hide a typo
    rounds = Math.min(Math.max(n, ROUNDS_MIN), ROUNDS_MAX);
    roundsExplicit = true;
    rest = rest.slice(m[0].length);
  }
  const end = rest.indexOf('$');
  const salt = (end < 0 ? rest : rest.slice(0, end)).slice(0, SALT_MAX);
  return { salt, rounds, roundsExplicit };
}

/** crypt(password, setting) for `$6$` settings. */
export function sha512Crypt(password: string | Buffer, setting: string): string {
  const { salt, rounds, roundsExplicit } = parseSetting(setting);
  const P = Buffer.isBuffer(password) ? password : Buffer.from(password, 'utf8');
  const S = Buffer.from(salt, 'utf8');

  const B = sha512(P, S, P);
  const a = createHash('sha512').update(P).update(S);
  let n: number;
  for (n = P.length; n > 64; n -= 64) a.update(B);
  a.update(B.subarray(0, n));
  for (n = P.length; n > 0; n >>>= 1) a.update(n & 1 ? B : P);
  const A = a.digest();

  const dp = createHash('sha512');
  for (let i = 0; i < P.length; i++) dp.update(P);
  const Pseq = repeatTo(dp.digest(), P.length);
  const ds = createHash('sha512');
  for (let i = 0; i < 16 + A[0]!; i++) ds.update(S);
  const Sseq = repeatTo(ds.digest(), S.length);

  let C: Buffer = A;
  for (let i = 0; i < rounds; i++) {
    const parts: Buffer[] = [i & 1 ? Pseq : C];
    if (i % 3 !== 0) parts.push(Sseq);
    if (i % 7 !== 0) parts.push(Pseq);
    parts.push(i & 1 ? C : Pseq);
    C = sha512(Buffer.concat(parts));
  }

  let enc = '';
  for (const [x, y, z] of ORDER) enc += b64From24(C[x]!, C[y]!, C[z]!, 4);
  enc += b64From24(0, 0, C[63]!, 2);
  return `$6$${roundsExplicit ? `rounds=${rounds}$` : ''}${salt}$${enc}`;
}

/** A fresh 16-character salt from the crypt alphabet. */
export function randomSalt(): string {
  const bytes = randomBytes(SALT_MAX);
  let s = '';
  for (const b of bytes) s += ALPHABET[b & 0x3f];
  return s;
}

/**
 * PASSWORD_HASH for a host. passlib's default of 656,000 rounds (what TowerOS's hashes carry) makes an offline
 * guess 130 times dearer than crypt's default of 5,000; musl (Alpine) accepts up to 9,999,999.
 */
export const HOST_PASSWORD_ROUNDS = 656_000;

export function hashPassword(password: string, rounds = HOST_PASSWORD_ROUNDS): string {
  return sha512Crypt(password, `$6$rounds=${rounds}$${randomSalt()}$`);
}

/** A random password as TowerOS makes one: secrets.token_urlsafe(16), i.e. 16 random bytes in base64url. */
export function randomPassword(): string {
  return randomBytes(16).toString('base64url');
}
