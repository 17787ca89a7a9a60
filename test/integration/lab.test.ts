// The lab itself, against real OpenSSH servers in Linux namespaces: TowerOS home layout, pinned host
// keys, firewall reachability, isolation between hosts, link cuts, sshd restarts and complete teardown.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDownStale, labUp, stateDir, type RunningLab } from '../lab/lab.js';
import { startTcpListener } from '../lab/listener.js';
import { listNetns } from '../lab/netns.js';
import { isAlive } from '../lab/proc.js';
import { runOk } from '../lab/exec.js';

// Unique per run, so two test runs on one machine never share a lab; 'twl' family for the global setup.
const PREFIX = `twlt${(process.pid % 46656).toString(36)}`;

describe.skipIf(process.getuid?.() !== 0)('lab: TowerOS hosts in namespaces', () => {
  let lab: RunningLab;
  let home: string;
  let sshConfig: string;
  let rootNetBefore: string[];

  /** The machine's own interfaces, addresses and routes, as far as they could concern the lab's subnets or names. */
  const rootNetworkView = async (): Promise<string[]> => {
    const out = await Promise.all([['ip', '-o', 'link'], ['ip', '-o', 'addr'], ['ip', 'route']].map((a) => runOk(a)));
    const labish = /192\.168\.[23]\.|10\.90\.0\.|\b(br-on|br-off|tc-on|tc-off|router|on\d+|off\d+)\b/;
    return out.flatMap((r) => r.stdout.split('\n')).filter((l) => labish.test(l));
  };

  beforeAll(async () => {
    rootNetBefore = await rootNetworkView();
    // Also done by global-setup.ts; repeated here so leftovers of a crashed run go even if the config omits it.
    await labDownStale('twl');
    home = await mkdtemp(join(tmpdir(), 'tower-lab-test-'));
    lab = await labUp({ prefix: PREFIX, home, online: 2, offline: 1 });
    sshConfig = join(home, '.ssh', 'config');
  });

  afterAll(async () => {
    await lab?.down();
    if (home) await rm(home, { recursive: true, force: true });
  });

  /** Real OpenSSH from the thin client, strict about host keys and never prompting. */
  const ssh = (name: string, command = 'true', extra: string[] = []) =>
    lab.execTc(['ssh', '-F', sshConfig, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', ...extra, name, command], {
      timeoutMs: 10_000,
    });

  /** TCP connect from inside a host with bash's /dev/tcp, bounded to `seconds`; stdout is what the peer sent. */
  const connectFrom = (name: string, ip: string, port: number, seconds = 2) =>
    lab.execHost(name, ['timeout', String(seconds), 'bash', '-c', `exec 3<>/dev/tcp/${ip}/${port} && cat <&3`], {
      timeoutMs: (seconds + 3) * 1000,
    });

  it('writes a TowerOS ~/.local/tower and ~/.ssh before the hosts boot', async () => {
    const tower = join(home, '.local', 'tower');
    const config = await readFile(join(tower, 'config'), 'utf8');
    expect([...config.matchAll(/^Host (\S+)$/gm)].map((m) => m[1])).toEqual(['router', 'off1', 'on1', 'on2']);
    expect(config).toContain(
      `Host on1\n    HostName 192.168.2.200\n    User tower\n    IdentityFile ${tower}/hosts/on1/id_ed25519\n    LogLevel FATAL\n    ConnectTimeout 1\n`,
    );

    const expectedColors = { router: '31', on1: '32', on2: '33', off1: '34' } as Record<string, string>;
    for (const host of lab.hosts) {
      const dir = join(tower, 'hosts', host.name);
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      expect((await stat(join(dir, 'tower.env'))).mode & 0o777).toBe(0o600);
      const env = Object.fromEntries(
        (await readFile(join(dir, 'tower.env'), 'utf8')).trim().split('\n').map((l) => {
          const m = /^([A-Z_]+)='(.*)'$/.exec(l);
          expect(m, l).not.toBeNull();
          return [m![1]!, m![2]!];
        }),
      );
      const offline = host.role === 'offline';
      expect(env).toEqual({
        HOSTNAME: host.name,
        USERNAME: 'tower',
        PUBLIC_KEY: (await readFile(join(dir, 'id_ed25519.pub'), 'utf8')).trim(),
        ONLINE: offline ? 'false' : 'true',
        THIN_CLIENT_IP: offline ? '192.168.3.100' : '192.168.2.100',
        TOWER_NETWORK: offline ? '192.168.3.0/24' : '192.168.2.0/24',
        STATIC_HOST_IP: host.ip,
        ROUTER_IP: '192.168.2.1',
        COLOR: expectedColors[host.name],
        INSTALLATION_TYPE: 'install',
        ALPINE_BRANCH: 'v3.19',
      });
      expect(env.PUBLIC_KEY).toMatch(new RegExp(`^ssh-ed25519 \\S+ ${host.name}$`));
      const hostPub = (await readFile(join(dir, 'ssh_host_ed25519_key.pub'), 'utf8')).trim();
      expect(hostPub.startsWith(`${host.hostKeyPub} `)).toBe(true);
    }

    const sshDir = join(home, '.ssh');
    expect((await stat(sshDir)).mode & 0o777).toBe(0o700);
    expect((await stat(sshConfig)).mode & 0o777).toBe(0o600);
    const sshConfigText = await readFile(sshConfig, 'utf8');
    expect(sshConfigText.split('\n').slice(0, 2)).toEqual([`Include ${tower}/config`, '']);
    const knownHosts = (await readFile(join(sshDir, 'known_hosts'), 'utf8')).trim().split('\n');
    expect(knownHosts.sort()).toEqual(lab.hosts.map((h) => `${h.ip} ${h.hostKeyPub}`).sort());
  });

  it.each(['router', 'on1', 'off1'])('logs into %s with its pinned host key and its own key, no prompt', async (name) => {
    const r = await ssh(name, 'echo "$(hostname) $(id -un)"');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${name} tower`);
  });

  it('resolves host aliases through the Include (ssh -G)', async () => {
    const r = await lab.execTc(['ssh', '-F', sshConfig, '-G', 'off1']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toContain('hostname 192.168.3.200');
    expect(lines).toContain('user tower');
    expect(lines).toContain(`identityfile ${home}/.local/tower/hosts/off1/id_ed25519`);
    expect(lines).toContain('connecttimeout 1');
  });

  it('refuses a host whose pinned key is swapped for another key', async () => {
    const on1 = lab.host('on1');
    const router = lab.host('router');
    const swapped = join(home, 'known_hosts.swapped');
    const text = await readFile(join(home, '.ssh', 'known_hosts'), 'utf8');
    await writeFile(swapped, text.replace(`${on1.ip} ${on1.hostKeyPub}`, `${on1.ip} ${router.hostKeyPub}`));
    const r = await ssh('on1', 'true', ['-o', `UserKnownHostsFile=${swapped}`]);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('Host key verification failed');
  });

  it('gives each host its own processes, /tmp and home', async () => {
    expect((await ssh('on1', 'echo secret > /tmp/mark && echo secret > ~/mark && cat /tmp/mark ~/mark')).stdout).toBe('secret\nsecret\n');
    const other = await ssh('on2', 'cat /tmp/mark ~/mark');
    expect(other.code).not.toBe(0);
    expect(other.stdout).toBe('');
    // Inside a host only its own init, sshd and this command are visible.
    const procs = await lab.execHost('on1', ['bash', '-c', 'for p in /proc/[0-9]*; do cat $p/comm; done']);
    const names = procs.stdout.trim().split('\n');
    expect(names).toContain('sshd');
    expect(names.length).toBeLessThan(12);
    expect(names.filter((n) => n === 'sshd').length).toBeLessThan(3);
  });

  it('lets an online host reach the internet through the router NAT, but not an offline host', async () => {
    const listener = await startTcpListener(lab.internetSpawnPrefix(), lab.internetIp, 8080, 20_000);
    try {
      const online = await connectFrom('on1', lab.internetIp, 8080);
      expect(online.code).toBe(0);
      expect(online.stdout).toBe('hello 10.90.0.1\n'); // masqueraded to the router's WAN address
      const started = Date.now();
      const offline = await connectFrom('off1', lab.internetIp, 8080);
      expect(offline.code).not.toBe(0);
      expect(offline.stdout).toBe('');
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      await listener.stop();
    }
  });

  it('stops hosts from reaching each other or the thin client', async () => {
    const tcOnline = await startTcpListener(lab.tcSpawnPrefix(), '192.168.2.100', 7070, 20_000);
    const tcOffline = await startTcpListener(lab.tcSpawnPrefix(), '192.168.3.100', 7070, 20_000);
    try {
      const attempts = await Promise.all([
        connectFrom('on1', '192.168.2.201', 22), // another online host's sshd
        connectFrom('on1', '192.168.2.1', 22), // the router's sshd (on1 may talk to the router, but not to port 22)
        connectFrom('on1', '192.168.2.100', 7070), // the thin client
        connectFrom('off1', '192.168.3.100', 7070),
        connectFrom('router', '192.168.2.200', 22),
      ]);
      for (const a of attempts) {
        expect(a.code).not.toBe(0);
        expect(a.stdout).toBe('');
      }
      // Control: the listeners and sshd are really there for the thin client.
      expect((await lab.execTc(['bash', '-c', 'exec 3<>/dev/tcp/192.168.3.100/7070 && cat <&3'])).stdout).toBe('hello 192.168.3.100\n');
      expect((await ssh('on2', 'hostname')).stdout).toBe('on2\n');
    } finally {
      await tcOnline.stop();
      await tcOffline.stop();
    }
  });

  it.each(['unplug', 'carrier'] as const)('cut (%s) makes a host unreachable while its sshd runs; restore brings it back', async (mode) => {
    const on2 = lab.host('on2');
    await lab.cut('on2', mode);
    try {
      const started = Date.now();
      const r = await ssh('on2', 'true', ['-o', 'ConnectTimeout=1']);
      expect(r.code).toBe(255);
      expect(Date.now() - started).toBeLessThan(4000);
      expect(await isAlive(on2.sshdPid)).toBe(true);
    } finally {
      await lab.restore('on2');
    }
    expect((await ssh('on2', 'hostname')).stdout).toBe('on2\n');
  });

  it('stopSshd refuses connections at once; startSshd serves the same host key again', async () => {
    const oldPid = lab.host('off1').sshdPid;
    await lab.stopSshd('off1');
    expect(await isAlive(oldPid)).toBe(false);
    const started = Date.now();
    expect((await ssh('off1')).code).toBe(255);
    expect(Date.now() - started).toBeLessThan(900); // refused, not timed out
    await lab.startSshd('off1');
    expect(lab.host('off1').sshdPid).not.toBe(oldPid);
    expect((await ssh('off1', 'hostname')).stdout).toBe('off1\n');
  });

  it('crash drops open sessions like a dead host would', async () => {
    const argv = [...lab.tcSpawnPrefix(), 'ssh', '-F', sshConfig, '-o', 'BatchMode=yes', 'on2', 'echo ready; sleep 30'];
    const session = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, HOME: home } });
    const closed = new Promise<number | null>((resolve) => session.once('close', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        session.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        session.once('close', () => reject(new Error('session ended before it was ready')));
      });
      await lab.crash('on2');
      const code = await Promise.race([closed, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 3000))]);
      expect(code).not.toBe('hung');
      expect(code).not.toBe(0);
    } finally {
      session.kill('SIGKILL');
    }
    await lab.startSshd('on2');
    expect((await ssh('on2', 'hostname')).stdout).toBe('on2\n');
  });

  it('grows a running lab with addHost', async () => {
    const host = await lab.addHost({ name: 'on3', role: 'online' });
    expect(host.ip).toBe('192.168.2.202');
    expect(await readFile(join(home, '.local', 'tower', 'config'), 'utf8')).toContain('Host on3\n    HostName 192.168.2.202\n');
    expect(await readFile(join(home, '.ssh', 'known_hosts'), 'utf8')).toContain(`192.168.2.202 ${host.hostKeyPub}\n`);
    expect((await ssh('on3', 'hostname')).stdout).toBe('on3\n');
  });

  it("leaves the machine's own network namespace alone", async () => {
    expect(await rootNetworkView()).toEqual(rootNetBefore);
  });

  it('down removes every namespace, process and the state directory', async () => {
    const pids = lab.hosts.flatMap((h) => [h.sshdPid, h.initPid]);
    await lab.down();
    expect((await listNetns()).filter((n) => n.startsWith(`${PREFIX}-`))).toEqual([]);
    for (const pid of pids) expect(await isAlive(pid), `pid ${pid}`).toBe(false);
    await expect(stat(stateDir(PREFIX))).rejects.toThrow(/ENOENT/);
    await lab.down(); // idempotent
  });
});
