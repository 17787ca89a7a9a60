import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TowerClient } from '../../client/rpc.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { ROOT } from '../helpers/towerd.js';

const root = process.getuid?.() === 0;
let t: LabDaemon;
let hostile: ChildProcessWithoutNullStreams | undefined;
let hostileOut = '';

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms; hostile host said: ${hostileOut}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const rssMiB = (pid: number) => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

describe.skipIf(!root)('a hostile host', () => {
  beforeAll(async () => {
    t = await labDaemon('h', {}, { desktop: { sound: 'off' } });
    // on1's sshd makes way for an ssh2 server with on1's own host key, so towerd trusts it as on1
    const host = t.lab.host('on1');
    await t.lab.stopSshd('on1');
    hostile = spawn(
      'nsenter',
      [`--net=/proc/${host.initPid}/ns/net`, '--', process.execPath, '--import', 'tsx', join(ROOT, 'test/helpers/hostile-ssh.ts'), '--key', join(host.bootDir, 'ssh_host_ed25519_key'), '--listen', host.ip],
      { cwd: ROOT },
    );
    hostile.stdout.setEncoding('utf8').on('data', (d: string) => (hostileOut += d));
    hostile.stderr.setEncoding('utf8').on('data', (d: string) => (hostileOut += d));
    await waitFor('the hostile host listening', () => hostileOut.includes('listening'));
    await t.client.call('host.reconnect', { name: 'on1' });
    await waitFor('on1 online on the hostile host', async () => (await t.client.call('host.get', { name: 'on1' })).state === 'online');
  });
  afterAll(async () => {
    hostile?.kill('SIGTERM');
    await t?.close();
  });

  it('sending beyond the window on a paused exec channel gets it disconnected, not buffered', async () => {
    const rssBefore = rssMiB(t.d.proc.pid!);
    // an exec whose client never reads: towerd pauses the channel as soon as the socket to it is full
    const c = await TowerClient.connect(t.d.socket);
    const up = await c.upgrade('exec.run', { host: 'on1', argv: ['flood'] });
    up.sock.pause();
    await expect.poll(() => hostileOut, { timeout: 10_000 }).toMatch(/flood/);
    const gone = await expect
      .poll(async () => (await t.client.call('host.get', { name: 'on1' })).lastError ?? '', { timeout: 15_000 })
      .toMatch(/CHANNEL_DATA beyond the window/)
      .then(
        () => true,
        () => false,
      );
    const rssAfter = rssMiB(t.d.proc.pid!);
    console.log(`towerd RSS ${rssBefore.toFixed(0)} MiB before the flood, ${rssAfter.toFixed(0)} MiB after; disconnected: ${gone}`);
    up.sock.destroy();
    c.close();
    expect(gone, `towerd kept the connection and grew from ${rssBefore.toFixed(0)} to ${rssAfter.toFixed(0)} MiB`).toBe(true);
    expect(t.d.proc.exitCode).toBeNull();
  });
});
