import { mkdirSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KEYFILE_NAME, bootFiles, makeMaterial, reinstallBootFiles, upgradeEnv } from '../../daemon/features/provision/material.js';
import { planReprovision, type ReinstallDeps } from '../../daemon/features/provision/reinstall.js';
import { Registry } from '../../daemon/core/registry/registry.js';
import { DEFAULT_SETTINGS } from '../../daemon/core/settings.js';
import { LogRing, createLogger } from '../../daemon/core/log.js';
import { resolvePaths } from '../../daemon/shared/paths.js';
import { hashPassword } from '../../daemon/shared/sha512crypt.js';

const DEFAULTS = { keyboardLayout: 'us', keyboardVariant: 'us', timezone: 'UTC', lang: 'en_US.UTF-8' };
const FACTS = { name: 'office', role: 'offline' as const, ip: '192.168.3.200', user: 'alice', color: 31, publicKey: 'ssh-ed25519 AAAAkey office\n' };

/** tower.env as provision writes it: the registry's keys, then the material's. */
function provisioned(towerosVersion: string | null = 'v0.7.0') {
  const m = makeMaterial({ name: 'office', role: 'offline', passwordHash: hashPassword('pw', 1000), towerosVersion }, DEFAULTS);
  const env = {
    HOSTNAME: 'office', USERNAME: 'alice', PUBLIC_KEY: 'ssh-ed25519 AAAAkey office', ONLINE: 'false', THIN_CLIENT_IP: '192.168.3.100',
    TOWER_NETWORK: '192.168.3.0/24', STATIC_HOST_IP: '192.168.3.200', ROUTER_IP: '192.168.2.1', COLOR: '31', ...m.env,
  };
  return { m, env };
}

describe('reinstall material (what goes on the media differs from provision only where it must)', () => {
  it('the host’s own tower.env, INSTALLATION_TYPE=upgrade, no password hash, the new image’s version', () => {
    const { env } = provisioned();
    const up = upgradeEnv(env, FACTS, 'v0.8.1');
    const changed = Object.keys({ ...env, ...up }).filter((k) => env[k as keyof typeof env] !== up[k]).sort();
    expect(changed).toEqual(['INSTALLATION_TYPE', 'PASSWORD_HASH', 'TOWEROS_VERSION']);
    expect(up.INSTALLATION_TYPE).toBe('upgrade');
    expect(up).not.toHaveProperty('PASSWORD_HASH');
    expect(up.TOWEROS_VERSION).toBe('v0.8.1');
    // the order of the keys is the saved file's
    expect(Object.keys(up)).toEqual(Object.keys(env).filter((k) => k !== 'PASSWORD_HASH'));
    // an image without a version in its name keeps the saved one
    expect(upgradeEnv(env, FACTS, null).TOWEROS_VERSION).toBe('v0.7.0');
  });

  it('follows the registry where it changed since provision: a new client key, colour, user; the router keeps its Wi-Fi', () => {
    const { env } = provisioned();
    const up = upgradeEnv(env, { ...FACTS, publicKey: 'ssh-ed25519 AAAAnew office', color: 32, user: 'bob' }, null);
    expect(up).toMatchObject({ PUBLIC_KEY: 'ssh-ed25519 AAAAnew office', COLOR: '32', USERNAME: 'bob', HOSTNAME: 'office', STATIC_HOST_IP: '192.168.3.200', ONLINE: 'false' });
    const router = { ...env, HOSTNAME: 'router', ONLINE: 'true', WLAN_SSID: 'Home', WLAN_SHARED_KEY: 'ab'.repeat(32) };
    expect(upgradeEnv(router, { ...FACTS, name: 'router', role: 'router', ip: '192.168.2.1' }, null)).toMatchObject({ WLAN_SSID: 'Home', WLAN_SHARED_KEY: 'ab'.repeat(32), ONLINE: 'true' });
  });

  it('the same boot files as provision, from the host folder; a key without its .pub is left out', () => {
    const { m } = provisioned();
    const all = ['tower.env', KEYFILE_NAME, 'id_ed25519', 'id_ed25519.pub', 'world', ...m.hostKeys.flatMap((k) => [k.file, `${k.file}.pub`])];
    expect(reinstallBootFiles(all).files).toEqual(bootFiles(m.hostKeys));
    expect(reinstallBootFiles(all.filter((f) => f !== 'ssh_host_rsa_key.pub')).hostKeys).toEqual(['ssh_host_ed25519_key', 'ssh_host_ecdsa_key']);
  });
});

describe('reprovision.check refusals', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  async function setup(running: number, withKeys: boolean) {
    const home = mkdtempSync(join(tmpdir(), 'tower-reinstall-'));
    dirs.push(home);
    const paths = resolvePaths({ HOME: home });
    mkdirSync(paths.sshDir, { mode: 0o700 });
    const registry = new Registry(paths, DEFAULT_SETTINGS);
    await registry.reload();
    const { m } = provisioned();
    await registry.add({
      name: 'office',
      role: 'offline',
      user: 'alice',
      env: m.env,
      files: withKeys ? [...m.hostKeys.flatMap((k) => [{ name: k.file, data: k.privateKey, mode: 0o600 }, { name: `${k.file}.pub`, data: k.publicKey, mode: 0o644 }]), { name: KEYFILE_NAME, data: m.keyfile, mode: 0o600 }] : [],
      hostKeys: m.hostKeys.map((k) => k.publicKey),
    });
    const deps: ReinstallDeps = {
      paths,
      registry,
      settings: () => DEFAULT_SETTINGS,
      supervised: () => true,
      publish: () => undefined,
      info: () => {
        throw new Error('not used');
      },
      log: createLogger('fatal', new LogRing()),
      apps: { running: () => running },
      packages: { restoreWorld: () => Promise.reject(new Error('not used')) },
      connected: () => {
        throw new Error('offline');
      },
      hostChanged: () => undefined,
    };
    return { deps, home, paths };
  }
  const params = (force: boolean) => ({ name: 'office', image: '/nonexistent/host.img', target: { kind: 'file' as const, path: '/nonexistent/out.img' }, force });

  it('while apps run on the host, unless force', async () => {
    const { deps } = await setup(2, true);
    await expect(planReprovision(deps, params(false))).rejects.toMatchObject({ code: 'HostBusy', message: expect.stringMatching(/^2 apps run on office: close them first/) as string });
    // with force the apps are no reason: the check goes on (to the image, which does not exist here)
    await expect(planReprovision(deps, params(true))).rejects.toMatchObject({ code: 'ImageInvalid' });
  });

  it('a host whose folder lacks its LUKS key file or host key, and an unknown host', async () => {
    const { deps } = await setup(0, false);
    await expect(planReprovision(deps, params(false))).rejects.toMatchObject({ code: 'IdentityMissing', message: expect.stringMatching(/has no crypto_keyfile\.bin .*, ssh_host_ed25519_key and \.pub/) as string });
    await expect(planReprovision(deps, { ...params(false), name: 'nobody' })).rejects.toMatchObject({ code: 'HostNotFound' });
    const { deps: full, paths: p2 } = await setup(0, true);
    unlinkSync(join(p2.hostsDir, 'office', 'ssh_host_ed25519_key.pub'));
    await expect(planReprovision(full, params(false))).rejects.toMatchObject({ code: 'IdentityMissing', message: expect.stringMatching(/has no ssh_host_ed25519_key and \.pub/) as string });
  });
});
