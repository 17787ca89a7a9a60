// `towerctl host rotate-key` against real sshd hosts: a normal rotation (the host never shows offline, only the new
// key is left in authorized_keys, the old one is refused, the supervisor reconnects with the new one), and a towerd
// killed with SIGKILL right after each journaled step (the TOWER_TEST_CRASH_AT seam): the next towerd reaches the
// host and finishes or rolls the rotation back.
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TowerClient } from '../../client/rpc.js';
import type { Event, RotationStep } from '../../protocol/index.js';
import { labUp, type RunningLab } from '../lab/lab.js';
import { startDaemon, tempHome, towerctl, type RunningDaemon } from '../helpers/towerd.js';
import { until } from '../helpers/until.js';

const root = process.getuid?.() === 0;
const HOST = 'on1';
let lab: RunningLab;
const daemons: RunningDaemon[] = [];

function keyDir(): string {
  return join(lab.home, '.local/tower/hosts', HOST);
}

function blobOf(line: string): string {
  return line.trim().split(/\s+/)[1]!;
}

/** The blob of the identity file towerd connects with. */
function identityBlob(): string {
  return blobOf(readFileSync(join(keyDir(), 'id_ed25519.pub'), 'utf8'));
}

/** The key blobs in the login user's ~/.ssh/authorized_keys on the host, read as root there. */
async function authorizedBlobs(): Promise<string[]> {
  const r = await lab.execHost(HOST, ['cat', `${lab.snapshot().userHome}/.ssh/authorized_keys`]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.split('\n').filter((l) => l.trim() && !l.startsWith('#')).map(blobOf);
}

async function daemon(env: NodeJS.ProcessEnv = {}): Promise<{ d: RunningDaemon; client: TowerClient }> {
  const d = await startDaemon({ home: lab.home, spawnPrefix: lab.tcSpawnPrefix(), env });
  daemons.push(d);
  const client = await TowerClient.connect(d.socket, { validate: true });
  await until(`${HOST} online`, async () => (await client.call('host.get', { name: HOST })).state === 'online', 20_000);
  return { d, client };
}

/** Can `keyFile` log in to the host? OpenSSH's own client, run in the thin client's namespace, publickey only. */
async function sshLogsIn(keyFile: string): Promise<boolean> {
  const r = await lab.execTc([
    'ssh', '-F', 'none', '-i', keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'PasswordAuthentication=no',
    '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${join(lab.home, '.ssh/known_hosts')}`, '-o', 'ConnectTimeout=5',
    `${lab.snapshot().user}@${lab.host(HOST).ip}`, 'true',
  ], { timeoutMs: 15_000 });
  return r.code === 0;
}

describe.skipIf(!root)('host rotate-key', () => {
  beforeAll(async () => {
    lab = await labUp({ prefix: `twlt${process.pid % 10000}rk`, online: 1, offline: 0, router: false, home: tempHome('tower-rk-') });
    // TowerOS installs the thin client's key in the login user's ~/.ssh/authorized_keys (the lab keeps it on the
    // boot media): move it there, with a line of the user's own that a rotation must leave alone
    const h = lab.snapshot().hosts.find((x) => x.name === HOST)!;
    const user = lab.snapshot().user;
    const r = await lab.execHost(HOST, ['sh', '-c', `mkdir -p ~/.ssh && { echo '# my own key'; echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOwnKeyOfTheUserXXXXXXXXXXXXXXXXXXXXXXXXXX me@laptop'; cat /run/lab/authorized_keys; } > ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys`], { user });
    expect(r.code, r.stderr).toBe(0);
    await writeFile(join(h.bootDir, 'authorized_keys'), '');
    const conf = await readFile(join(h.bootDir, 'sshd_config'), 'utf8');
    await writeFile(join(h.bootDir, 'sshd_config'), conf.replace(/^AuthorizedKeysFile .*$/m, 'AuthorizedKeysFile .ssh/authorized_keys'));
    await lab.stopSshd(HOST);
    await lab.startSshd(HOST);
  }, 120_000);
  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.stop('SIGKILL')));
  });
  afterAll(async () => {
    await lab?.down();
    if (lab) rmSync(lab.home, { recursive: true, force: true });
  });

  it('rotates the key without the host going offline; only the new key is left on the host', async () => {
    const { d, client } = await daemon();
    const before = identityBlob();
    const oldKey = readFileSync(join(keyDir(), 'id_ed25519'), 'utf8');
    await writeFile(join(lab.home, 'old_key'), oldKey, { mode: 0o600 });
    expect(await sshLogsIn(join(lab.home, 'old_key'))).toBe(true);
    const states: string[] = [];
    await client.subscribe(['hosts'], (e: Event) => {
      if (e.type === 'host.state' && e.host.name === HOST) states.push(e.host.state);
    });
    const r = await towerctl(d, ['host', 'rotate-key', HOST, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const [out] = JSON.parse(r.stdout) as { host: string; ok: boolean; result: { newPublicKey: string; oldPublicKey: string; fingerprint: string } }[];
    expect(out).toMatchObject({ host: HOST, ok: true });
    const after = identityBlob();
    expect(after).not.toBe(before);
    expect(blobOf(out!.result.newPublicKey)).toBe(after);
    expect(blobOf(out!.result.oldPublicKey)).toBe(before);
    expect(out!.result.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    // the host: the user's own line kept, the old key gone, the new one once
    const blobs = await authorizedBlobs();
    expect(blobs.filter((b) => b === after)).toHaveLength(1);
    expect(blobs).not.toContain(before);
    expect(blobs).toContain('AAAAC3NzaC1lZDI1NTE5AAAAIOwnKeyOfTheUserXXXXXXXXXXXXXXXXXXXXXXXXXX');
    expect(blobs).toHaveLength(2);
    // here: no journal or staged key left, the key file private
    expect(existsSync(join(keyDir(), 'rotate-key.json'))).toBe(false);
    expect(existsSync(join(keyDir(), 'id_ed25519.new'))).toBe(false);
    expect(statSync(join(keyDir(), 'id_ed25519')).mode & 0o777).toBe(0o600);
    // never offline, not even a reconnect, during the rotation
    expect(states.filter((s) => s !== 'online')).toEqual([]);
    expect((await client.call('host.get', { name: HOST })).state).toBe('online');
    // the old key is refused, the new one works, and the supervisor reconnects with it
    expect(await sshLogsIn(join(lab.home, 'old_key'))).toBe(false);
    expect(await sshLogsIn(join(keyDir(), 'id_ed25519'))).toBe(true);
    await client.call('host.reconnect', { name: HOST });
    await until('reconnected with the new key', async () => (await client.call('host.get', { name: HOST })).state === 'online', 15_000);
    // a second rotation works from there, and --all reports what it did
    const all = await towerctl(d, ['host', 'rotate-key', '--all']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(new RegExp(`^${HOST}: new key SHA256:\\S+ in use; the old key was removed from ${HOST} \\(\\d+\\.\\d s\\)\\n1 of 1 host rotated\\n$`));
    expect(identityBlob()).not.toBe(after);
    expect(await authorizedBlobs()).toHaveLength(2);
    client.close();
  }, 90_000);

  it('refuses a host that is not connected, naming it', async () => {
    const { d, client } = await daemon();
    const before = identityBlob();
    await lab.cut(HOST);
    try {
      await until(`${HOST} offline`, async () => (await client.call('host.get', { name: HOST })).state !== 'online', 10_000);
      const r = await towerctl(d, ['host', 'rotate-key', HOST]);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(new RegExp(`^towerctl: ${HOST} is not connected \\(`));
      const all = await towerctl(d, ['host', 'rotate-key', '--all', '--json']);
      expect(all.code).toBe(4);
      expect(JSON.parse(all.stdout)).toMatchObject([{ host: HOST, ok: false, error: expect.stringMatching(new RegExp(`^${HOST} is not connected`)) }]);
    } finally {
      await lab.restore(HOST);
    }
    expect(identityBlob()).toBe(before);
    client.close();
  }, 60_000);

  it('refuses a key file that is not the host’s own (it would be replaced in place)', async () => {
    const { d, client } = await daemon();
    const config = join(lab.home, '.local/tower/config');
    const original = readFileSync(config, 'utf8');
    const elsewhere = join(lab.home, 'personal_ed25519');
    await writeFile(elsewhere, readFileSync(join(keyDir(), 'id_ed25519')), { mode: 0o600 });
    const edited = original.replace(/^(\s*IdentityFile\s+).*on1\/id_ed25519$/m, `$1${elsewhere}`);
    expect(edited).not.toBe(original);
    await writeFile(config, edited);
    try {
      await until('the registry uses the other key file', async () => {
        const h = await client.call('host.get', { name: HOST });
        return h.identityFile === elsewhere && h.state === 'online';
      }, 15_000);
      const r = await towerctl(d, ['host', 'rotate-key', HOST]);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(`towerctl: ${HOST} uses the key ${elsewhere}, not its own ${join(keyDir(), 'id_ed25519')}; Tower rotates only the keys it keeps in a host's folder`);
      expect(readFileSync(elsewhere, 'utf8')).toBe(readFileSync(join(keyDir(), 'id_ed25519'), 'utf8'));
      expect(existsSync(join(keyDir(), 'rotate-key.json'))).toBe(false);
    } finally {
      await writeFile(config, original);
    }
    await until('back on its own key', async () => (await client.call('host.get', { name: HOST })).identityFile.endsWith('on1/id_ed25519'), 15_000);
    client.close();
  }, 60_000);

  it('a new key that cannot be proven is taken off the host again; the old one stays', async () => {
    const { d, client } = await daemon();
    const before = identityBlob();
    const blobsBefore = await authorizedBlobs();
    // new connections to sshd are dropped, the supervised one (established) carries on: the proof cannot connect
    const drop = await lab.execHost(HOST, ['nft', 'insert', 'rule', 'inet', 'tower', 'lab_input', 'tcp', 'dport', '22', 'ct', 'state', 'new', 'drop', 'comment', 'rotate-key-test']);
    expect(drop.code, drop.stderr).toBe(0);
    let r;
    try {
      r = await towerctl(d, ['host', 'rotate-key', HOST]);
    } finally {
      const listed = await lab.execHost(HOST, ['nft', '-a', 'list', 'chain', 'inet', 'tower', 'lab_input']);
      const handle = /comment "rotate-key-test" # handle (\d+)/.exec(listed.stdout)?.[1];
      expect(handle, listed.stdout).toBeDefined();
      await lab.execHost(HOST, ['nft', 'delete', 'rule', 'inet', 'tower', 'lab_input', 'handle', handle!]);
    }
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`^towerctl: cannot rotate the key of ${HOST}: no TCP answer from [0-9.]+:22 within 3000 ms; the old key stays in use\n$`));
    expect(identityBlob()).toBe(before);
    expect(await authorizedBlobs()).toEqual(blobsBefore);
    expect(existsSync(join(keyDir(), 'rotate-key.json'))).toBe(false);
    expect(existsSync(join(keyDir(), 'id_ed25519.new'))).toBe(false);
    expect((await client.call('host.get', { name: HOST })).state).toBe('online');
    client.close();
  }, 60_000);

  const steps: [RotationStep, 'rolled back' | 'finished'][] = [
    ['staged', 'rolled back'],
    ['added', 'rolled back'],
    ['proven', 'finished'],
    ['installed', 'finished'],
    ['removed', 'finished'],
  ];
  for (const [step, outcome] of steps) {
    it(`kill -9 right after step ${step}: the next towerd reaches the host and the rotation is ${outcome}`, async () => {
      const before = identityBlob();
      const crashing = await daemon({ TOWER_TEST_CRASH_AT: step });
      const r = await towerctl(crashing.d, ['host', 'rotate-key', HOST]);
      expect(r.code).not.toBe(0);
      expect(await crashing.d.stop()).toBe(null); // killed by a signal, not exited
      expect(crashing.d.proc.signalCode).toBe('SIGKILL');
      crashing.client.close();
      const journal = JSON.parse(readFileSync(join(keyDir(), 'rotate-key.json'), 'utf8')) as { step: string; newPublicKey: string };
      expect(journal.step).toBe(step);
      const newBlob = blobOf(journal.newPublicKey);
      // whatever the step, the key file here is one the host accepts
      expect(await sshLogsIn(join(keyDir(), 'id_ed25519'))).toBe(true);

      const { client } = await daemon();
      await until('the journal resolved', () => !existsSync(join(keyDir(), 'rotate-key.json')), 20_000);
      expect(existsSync(join(keyDir(), 'id_ed25519.new'))).toBe(false);
      const blobs = (await authorizedBlobs()).filter((b) => !b.includes('KeyOfTheUser'));
      const now = identityBlob();
      if (outcome === 'rolled back') {
        expect(now).toBe(before);
        expect(blobs).toEqual([before]);
      } else {
        expect(now).toBe(newBlob);
        expect(blobs).toEqual([newBlob]);
      }
      expect(await sshLogsIn(join(keyDir(), 'id_ed25519'))).toBe(true);
      await client.call('host.reconnect', { name: HOST });
      await until(`${HOST} online again`, async () => (await client.call('host.get', { name: HOST })).state === 'online', 15_000);
      client.close();
    }, 90_000);
  }
});
