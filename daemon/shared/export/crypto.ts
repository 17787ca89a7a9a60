import { Decrypter, Encrypter } from 'age-encryption';

/**
 * The export file is an age file (age-encryption.org/v1) with one scrypt (passphrase) recipient, written by typage,
 * the age author's TypeScript implementation: `age -d` decrypts it, and no file format or key derivation of our own
 * needs trusting. The work factor is age's own default (2^18: about 1 s and 256 MiB here).
 */
export const SCRYPT_WORK_FACTOR = 18;
/** fewer characters are refused on export: scrypt slows guessing, it does not make a short passphrase long */
export const MIN_PASSPHRASE_CHARS = 12;

export async function encryptState(plain: Uint8Array, passphrase: string, workFactor = SCRYPT_WORK_FACTOR): Promise<Uint8Array> {
  const e = new Encrypter();
  e.setPassphrase(passphrase);
  e.setScryptWorkFactor(workFactor);
  return e.encrypt(plain);
}

export class WrongPassphraseError extends Error {}

/** Decrypt; a wrong passphrase, a file for other recipients and a damaged file are all refused with no output. */
export async function decryptState(file: Uint8Array, passphrase: string): Promise<Uint8Array> {
  const d = new Decrypter();
  d.addPassphrase(passphrase);
  try {
    return await d.decrypt(file);
  } catch (err) {
    const msg = (err as Error).message;
    if (/no identity matched|incorrect passphrase|failed to decrypt/i.test(msg)) throw new WrongPassphraseError('wrong passphrase (or not an export made with one); nothing was written', { cause: err });
    throw new Error(`not a readable age file: ${msg.slice(0, 200)}`, { cause: err });
  }
}
