// The single login user shared by every lab host (like TowerOS: the thin client's user name on every host).
import { mkdir, readFile } from 'node:fs/promises';
import { runOk } from './exec.js';

export interface LabUser {
  name: string;
  uid: number;
  gid: number;
  /** Home from passwd; each host mounts its own tmpfs over it. */
  home: string;
}

async function lookup(name: string): Promise<LabUser | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 7) {
      return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
    }
  }
  return undefined;
}

/** sshd with `UsePAM no` refuses even key logins for a locked account ('!' in shadow); lab-facts pitfall 7. */
async function assertUnlocked(name: string): Promise<void> {
  const shadow = await readFile('/etc/shadow', 'utf8');
  const entry = shadow.split('\n').find((l) => l.startsWith(`${name}:`));
  const hash = entry?.split(':')[1] ?? '';
  if (hash.startsWith('!')) {
    throw new Error(
      `user '${name}' is locked (password field starts with '!'), so sshd (UsePAM no) refuses key logins; ` +
        `unlock it with: usermod -p '*' ${name}`,
    );
  }
}

/** Creates the user if missing (`useradd -p '*'`: no password, not locked) and makes sure its home exists as a mount point. */
export async function ensureLabUser(name: string): Promise<LabUser> {
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(name)) throw new Error(`invalid user name '${name}'`);
  let user = await lookup(name);
  if (!user) {
    await runOk(['useradd', '--system', '--user-group', '--create-home', '--shell', '/bin/bash', '-p', '*', name], {
      context: `creating lab user '${name}'`,
    });
    user = await lookup(name);
    if (!user) throw new Error(`useradd succeeded but '${name}' is not in /etc/passwd`);
  }
  await assertUnlocked(name);
  if (user.home === '/' || !user.home.startsWith('/')) {
    throw new Error(`user '${name}' has home '${user.home}'; the lab mounts a tmpfs over it, so it must be a dedicated directory`);
  }
  await mkdir(user.home, { recursive: true });
  return user;
}
