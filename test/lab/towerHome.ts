// Writes a real TowerOS thin-client home (toweros-as-built §2): ~/.local/tower/{config,hosts/NAME/…},
// ~/.ssh/config with the Include line, and ~/.ssh/known_hosts pinned before any host boots.
// Keys are made with ssh-keygen on the thin-client side, exactly as `tower provision` does.
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runOk } from './exec.js';
import { ROUTER_IP, networkOf, towerOrder, type HostPlan } from './topology.js';

export const towerDir = (home: string): string => join(home, '.local', 'tower');
export const hostDir = (home: string, name: string): string => join(towerDir(home), 'hosts', name);

export interface HostKeys {
  identityFile: string;
  /** Client public key line (with the host name as comment), the value of PUBLIC_KEY. */
  publicKey: string;
  hostKeyFile: string;
  /** `ssh-ed25519 AAAA…` without comment. */
  hostKeyPub: string;
}

async function keygen(file: string, comment: string): Promise<string> {
  // ssh-keygen asks before overwriting; remove first so it never waits on a prompt.
  await rm(file, { force: true });
  await rm(`${file}.pub`, { force: true });
  await runOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], {
    context: `generating ${file}`,
    timeoutMs: 10_000,
  });
  return (await readFile(`${file}.pub`, 'utf8')).trim();
}

/** TowerOS writes `KEY='value'` without escaping and reads it back by slicing quotes, so a quote would corrupt it. */
function towerEnvLine(key: string, value: string): string {
  if (value.includes("'") || value.includes('\n')) throw new Error(`tower.env ${key} value cannot hold quotes or newlines`);
  return `${key}='${value}'\n`;
}

export function towerEnv(host: HostPlan, user: string, publicKey: string): string {
  const net = networkOf(host.role);
  const entries: [string, string][] = [
    ['HOSTNAME', host.name],
    ['USERNAME', user],
    ['PUBLIC_KEY', publicKey],
    ['ONLINE', host.role === 'offline' ? 'false' : 'true'],
    ['THIN_CLIENT_IP', net.thinClientIp],
    ['TOWER_NETWORK', net.cidr],
    ['STATIC_HOST_IP', host.ip],
    ['ROUTER_IP', ROUTER_IP],
    ['COLOR', String(host.color)],
    ['INSTALLATION_TYPE', 'install'],
    ['ALPINE_BRANCH', 'v3.19'],
  ];
  return entries.map(([k, v]) => towerEnvLine(k, v)).join('');
}

/** Provision step 2 + 8 for one host: keys and tower.env in hosts/NAME (0700). */
export async function provisionHostDir(home: string, host: HostPlan, user: string): Promise<HostKeys> {
  const dir = hostDir(home, host.name);
  // Only hosts/NAME is private (mode 700); parents get ordinary modes as TowerOS's makedirs gives them.
  await mkdir(join(towerDir(home), 'hosts'), { recursive: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const identityFile = join(dir, 'id_ed25519');
  const hostKeyFile = join(dir, 'ssh_host_ed25519_key');
  const [publicKey, hostKeyLine] = await Promise.all([keygen(identityFile, host.name), keygen(hostKeyFile, `root@${host.name}`)]);
  const envFile = join(dir, 'tower.env');
  await writeFile(envFile, towerEnv(host, user, publicKey), { mode: 0o600 });
  await chmod(envFile, 0o600);
  const hostKeyPub = hostKeyLine.split(/\s+/).slice(0, 2).join(' ');
  return { identityFile, publicKey, hostKeyFile, hostKeyPub };
}

/** ~/.local/tower/config: one block per host, router first then by name (the sshconf layout TowerOS writes). */
export async function writeTowerConfig(home: string, hosts: readonly { name: string; ip: string }[], user: string): Promise<void> {
  const blocks = towerOrder(hosts).map((h) =>
    [
      `Host ${h.name}`,
      `    HostName ${h.ip}`,
      `    User ${user}`,
      `    IdentityFile ${join(hostDir(home, h.name), 'id_ed25519')}`,
      `    LogLevel FATAL`,
      `    ConnectTimeout 1`,
      '',
    ].join('\n'),
  );
  await mkdir(towerDir(home), { recursive: true });
  await writeFile(join(towerDir(home), 'config'), blocks.join('\n'));
}

/**
 * ~/.ssh/config (0600, dir 0700) starting with the Include line and a blank line, as TowerOS prepends it.
 * OpenSSH expands `~` from the passwd entry, not $HOME, so the lab pins UserKnownHostsFile to this home
 * explicitly; AddressFamily inet because the lab has no IPv6 (lab-facts pitfall 8).
 */
export async function writeSshConfig(home: string): Promise<string> {
  const sshDir = join(home, '.ssh');
  await mkdir(sshDir, { recursive: true, mode: 0o700 });
  await chmod(sshDir, 0o700);
  const file = join(sshDir, 'config');
  const text = [
    `Include ${join(towerDir(home), 'config')}`,
    '',
    'Host *',
    '    AddressFamily inet',
    `    UserKnownHostsFile ${join(sshDir, 'known_hosts')}`,
    '',
  ].join('\n');
  await writeFile(file, text, { mode: 0o600 });
  await chmod(file, 0o600);
  return file;
}

/** TowerOS update_known_hosts: drop the IP's old lines, append `<ip> <key>` for each host (anchored on the IP field). */
export async function pinKnownHosts(home: string, entries: readonly { ip: string; hostKeyPub: string }[]): Promise<void> {
  const file = join(home, '.ssh', 'known_hosts');
  let old = '';
  try {
    old = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const ips = new Set(entries.map((e) => e.ip));
  const kept = old.split('\n').filter((l) => l.trim() !== '' && !ips.has(l.split(/\s+/)[0]!));
  const lines = [...kept, ...entries.map((e) => `${e.ip} ${e.hostKeyPub}`)];
  await writeFile(file, `${lines.join('\n')}\n`, { mode: 0o644 });
}
