import { randomBytes } from 'node:crypto';
import type { Role } from '../../../protocol/index.js';
import { generateHostKeys, type HostKey } from '../../core/registry/keys.js';
import type { LocaleDefaults } from './locale.js';
import { TowerError } from '../../core/errors.js';

/** TowerOS's LUKS key file: 2 KiB from the kernel's random generator (`dd bs=512 count=4`). */
export const KEYFILE_NAME = 'crypto_keyfile.bin';
export const KEYFILE_BYTES = 2048;
export const ALPINE_BRANCH = 'v3.19';

export interface MaterialRequest {
  name: string;
  role: Role;
  passwordHash: string;
  wlan?: { ssid: string; psk: string } | undefined;
  timezone?: string | undefined;
  keyboard?: { layout: string; variant?: string | undefined } | undefined;
  lang?: string | undefined;
  towerosVersion: string | null;
}

export interface Material {
  hostKeys: HostKey[];
  keyfile: Buffer;
  /** tower.env keys beyond the ones every registered host has (HOSTNAME, USERNAME, PUBLIC_KEY, addresses, COLOR) */
  env: Record<string, string>;
}

export class MaterialError extends TowerError {
  constructor(message: string) {
    super('InvalidParams', message);
  }
}

/**
 * What TowerOS generates on the thin client for a new host (§2.3, §3.1 step 2), except the plain password: only its
 * sha512-crypt hash is ever handled here.
 */
export function makeMaterial(req: MaterialRequest, defaults: LocaleDefaults): Material {
  if (req.role === 'router' && !req.wlan) throw new MaterialError('the router needs the Wi-Fi it shares: give its SSID and passphrase');
  if (req.role !== 'router' && req.wlan) throw new MaterialError('only the router uses Wi-Fi');
  const layout = req.keyboard?.layout ?? defaults.keyboardLayout;
  const variant = req.keyboard ? (req.keyboard.variant ?? req.keyboard.layout) : defaults.keyboardVariant;
  const env: Record<string, string> = {
    PASSWORD_HASH: req.passwordHash,
    KEYBOARD_LAYOUT: layout,
    KEYBOARD_VARIANT: variant,
    TIMEZONE: req.timezone ?? defaults.timezone,
    LANG: req.lang ?? defaults.lang,
  };
  if (req.wlan) {
    env.WLAN_SSID = req.wlan.ssid;
    env.WLAN_SHARED_KEY = req.wlan.psk;
  }
  env.INSTALLATION_TYPE = 'install';
  env.ALPINE_BRANCH = ALPINE_BRANCH;
  if (req.towerosVersion) env.TOWEROS_VERSION = req.towerosVersion;
  return { hostKeys: generateHostKeys(req.name), keyfile: randomBytes(KEYFILE_BYTES), env };
}

/** The files of the host folder that go onto the boot partition, in the order TowerOS copies them. */
export function bootFiles(hostKeys: readonly HostKey[]): string[] {
  return ['tower.env', KEYFILE_NAME, ...hostKeys.flatMap((k) => [k.file, `${k.file}.pub`])];
}

/** What a reinstalled host keeps, from the registry: its name, network, address, login user, colour and the thin client's key. */
export interface HostFacts {
  name: string;
  role: Role;
  ip: string;
  user: string;
  color: number;
  /** the thin client's public key for the host (its id_ed25519.pub now) */
  publicKey: string;
}

/**
 * tower.env for reinstalling a host (TowerOS's `upgrade --hosts`): the host's own, as saved at provision, with the
 * facts the registry has now (a key rotated or a colour changed since), `INSTALLATION_TYPE=upgrade` so that the
 * installer formats root only and opens the LUKS /home with the same key file, no `PASSWORD_HASH` (the users and
 * their passwords live on), and the branch and version of the new image.
 */
export function upgradeEnv(saved: Record<string, string>, facts: HostFacts, towerosVersion: string | null): Record<string, string> {
  const { PASSWORD_HASH: _password, ...env } = saved;
  env.HOSTNAME = facts.name;
  env.USERNAME = facts.user;
  env.PUBLIC_KEY = facts.publicKey.trim();
  env.ONLINE = facts.role === 'offline' ? 'false' : 'true';
  env.STATIC_HOST_IP = facts.ip;
  env.COLOR = String(facts.color);
  env.INSTALLATION_TYPE = 'upgrade';
  env.ALPINE_BRANCH = ALPINE_BRANCH;
  if (towerosVersion) env.TOWEROS_VERSION = towerosVersion;
  return env;
}

/** The host key files of a host folder that go onto a reinstalled host's boot partition, in provision's order. */
export function reinstallBootFiles(present: readonly string[]): { files: string[]; hostKeys: string[] } {
  const hostKeys = ['ed25519', 'ecdsa', 'rsa'].map((t) => `ssh_host_${t}_key`).filter((f) => present.includes(f) && present.includes(`${f}.pub`));
  return { files: ['tower.env', KEYFILE_NAME, ...hostKeys.flatMap((f) => [f, `${f}.pub`])], hostKeys };
}
