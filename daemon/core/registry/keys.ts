import ssh2, { type ParsedKey } from 'ssh2';
import { readFile } from 'node:fs/promises';

const { utils } = ssh2;

export class KeyError extends Error {}

export interface KeyPair {
  /** OpenSSH private key file content */
  privateKey: string;
  /** `ssh-ed25519 AAAA… comment` */
  publicKey: string;
}

/** A fresh ed25519 key pair in OpenSSH format, without passphrase, as `ssh-keygen -t ed25519 -N ''` makes. */
export function generateEd25519(comment: string): KeyPair {
  const kp = utils.generateKeyPairSync('ed25519', { comment });
  return { privateKey: kp.private, publicKey: `${kp.public.trim()}\n` };
}

/** Load an existing unencrypted ed25519 private key and derive its public line. */
export async function loadEd25519(path: string, comment: string): Promise<KeyPair> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    throw new KeyError(`cannot read key file ${path}: ${(err as Error).message}`);
  }
  const parsed = utils.parseKey(data);
  if (parsed instanceof Error) {
    // the parser's message may quote key material only in pathological cases; give a fixed text
    throw new KeyError(`${path} is not an unencrypted OpenSSH private key (${classify(parsed.message)})`);
  }
  const key: ParsedKey = parsed;
  if (key.type !== 'ssh-ed25519') {
    throw new KeyError(`${path} holds a ${key.type} key; Tower hosts use ed25519 keys`);
  }
  if (!key.isPrivateKey()) throw new KeyError(`${path} is a public key; give the private key file`);
  const blob = key.getPublicSSH().toString('base64');
  return { privateKey: data.toString('utf8'), publicKey: `ssh-ed25519 ${blob} ${comment}\n` };
}

function classify(message: string): string {
  if (/passphrase|encrypted/i.test(message)) return 'it is encrypted';
  return 'unsupported format';
}

export type HostKeyType = 'ed25519' | 'ecdsa' | 'rsa';

/** A host's own SSH host key, named as sshd expects it (`ssh_host_ed25519_key`). */
export interface HostKey extends KeyPair {
  type: HostKeyType;
  file: string;
}

/**
 * The three host keys TowerOS makes on the thin client for each host (as `ssh-keygen -A` would on the host):
 * ed25519, ecdsa P-256 and RSA 3072, in OpenSSH format, comment `root@NAME`.
 */
export function generateHostKeys(name: string): HostKey[] {
  const specs: { type: HostKeyType; bits?: number }[] = [{ type: 'ed25519' }, { type: 'ecdsa', bits: 256 }, { type: 'rsa', bits: 3072 }];
  return specs.map(({ type, bits }) => {
    const kp = bits === undefined ? utils.generateKeyPairSync('ed25519', { comment: `root@${name}` }) : utils.generateKeyPairSync(type as 'ecdsa' | 'rsa', { bits, comment: `root@${name}` });
    return { type, file: `ssh_host_${type}_key`, privateKey: kp.private, publicKey: `${kp.public.trim()}\n` };
  });
}
