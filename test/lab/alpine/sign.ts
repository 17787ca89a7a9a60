// apk v2 signatures: a first gzip member holding a tar segment with one file `.SIGN.RSA256.<keyname>`,
// an RSA PKCS#1 v1.5 SHA-256 signature over the next gzip member (a package's control member) or over
// the rest of the file (an index). Real apk trusts it when /etc/apk/keys/<keyname> holds the public key.
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { tarBlocks } from './tar.js';

export interface SigningKey {
  /** File name of the public key under /etc/apk/keys, e.g. `tower-lab-1a2b3c4d.rsa.pub` (abuild's naming). */
  name: string;
  privateKey: KeyObject;
  /** PEM "PUBLIC KEY" (SubjectPublicKeyInfo), the format of Alpine's keys. */
  publicKeyPem: string;
}

/** A fresh 2048-bit RSA key named like abuild-keygen names them. */
export function createSigningKey(owner = 'tower-lab'): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const id = createHash('sha1').update(publicKeyPem).digest('hex').slice(0, 8);
  return { name: `${owner}-${id}.rsa.pub`, privateKey, publicKeyPem };
}

/** Writes the public key where apk looks for it (`<root>/etc/apk/keys` or a --keys-dir). Returns its path. */
export function exportPublicKey(key: SigningKey, keysDir: string): string {
  mkdirSync(keysDir, { recursive: true });
  const path = join(keysDir, key.name);
  writeFileSync(path, key.publicKeyPem, { mode: 0o644 });
  return path;
}

/** The signature gzip member that goes in front of `signed` (the bytes the signature covers). */
export function signatureMember(key: SigningKey, signed: Buffer, mtime: number): Buffer {
  const signature = sign('sha256', signed, key.privateKey); // RSA keys sign PKCS#1 v1.5 by default
  const tar = tarBlocks([{ name: `.SIGN.RSA256.${key.name}`, type: 'file', mode: 0o644, mtime, content: signature }], { eof: false });
  return gzipSync(tar, { level: 9 });
}
