import { mkdtempSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import ssh2, { type ClientChannel } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { sshExecServer } from '../helpers/ssh-exec-server.js';
import { bridgeChannel } from '../../daemon/core/exec/stream.js';

const { Client } = ssh2;

const MiB = 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'y\n');

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

/** What the host's command has written so far, and whether it is blocked because nobody takes more. */
interface Flood {
  wrote: number;
  blocked: boolean;
  done: boolean;
}

/**
 * A real ssh2 host whose command writes `total` bytes (`yes >&2`, or to both streams) as fast as the channel's
 * window lets it, waiting for 'drain' as a well-behaved writer does.
 */
function floodingHost(streams: 'stderr' | 'both', total: number, flood: Flood): Promise<number> {
  return sshExecServer((acceptExec) => {
    const ch = acceptExec();
    const outs: Writable[] = streams === 'both' ? [ch, ch.stderr] : [ch.stderr];
    let turn = 0;
    const pump = () => {
      flood.blocked = false;
      while (flood.wrote < total) {
        const out = outs[turn++ % outs.length]!;
        flood.wrote += CHUNK.length;
        if (!out.write(CHUNK)) {
          flood.blocked = true;
          out.once('drain', pump);
          return;
        }
      }
      flood.done = true;
      ch.exit(0);
      ch.end();
    };
    pump();
  }, closers);
}

function execOn(port: number): Promise<ClientChannel> {
  const client = new Client();
  closers.push(() => client.destroy());
  return new Promise((resolve, reject) => {
    client.on('error', reject);
    client.on('ready', () => client.exec('yes >&2', (err, ch) => (err ? reject(err) : resolve(ch))));
    client.connect({ host: '127.0.0.1', port, username: 'tower', hostVerifier: () => true });
  });
}

/** A towerctl that stopped reading: towerd's end of the connection, and the client's end that is never read. */
async function stalledClient(): Promise<Socket> {
  const path = join(mkdtempSync(join(tmpdir(), 'tower-stream-')), 's.sock');
  const accepted = new Promise<Socket>((resolve) => {
    const srv = createServer(resolve).listen(path);
    closers.push(() => srv.close());
  });
  const peer = createConnection(path);
  peer.pause();
  closers.push(() => peer.destroy());
  return accepted;
}

describe('exec stream: output towards a client that stopped reading', () => {
  for (const streams of ['stderr', 'both'] as const) {
    it(`pauses the stream that filled the socket, with one drain listener (${streams})`, async () => {
      const total = 64 * MiB;
      const flood: Flood = { wrote: 0, blocked: false, done: false };
      const ch = await execOn(await floodingHost(streams, total, flood));
      const sock = await stalledClient();
      const drainBefore = sock.listenerCount('drain');
      void bridgeChannel(sock, Buffer.alloc(0), ch, 'h');
      // until the host's command has written everything (nothing held it back) or is blocked and nothing moves
      let last = -1;
      const resting = () => flood.done || (flood.blocked && last === flood.wrote) || ((last = flood.wrote), false);
      await expect.poll(resting, { timeout: 10_000, interval: 100 }).toBe(true);
      const queued = sock.writableLength;
      const held = ch.readableLength + ch.stderr.readableLength;
      console.log(`${streams}: host wrote ${(flood.wrote / MiB).toFixed(1)} MiB; towerd queued ${(queued / 1024).toFixed(0)} KiB on the socket, held ${(held / MiB).toFixed(2)} MiB in the channel; ${sock.listenerCount('drain') - drainBefore} drain listeners`);
      expect(flood.done, `the host wrote all ${total / MiB} MiB with nobody reading; ${(queued / MiB).toFixed(0)} MiB queued in towerd`).toBe(false);
      expect(queued).toBeLessThan(1 * MiB);
      // at most ssh2's two stream high-water marks plus the window granted while they filled (2 MiB each)
      expect(held).toBeLessThanOrEqual(3 * 2 * MiB);
      expect(sock.listenerCount('drain') - drainBefore).toBeLessThanOrEqual(1);
      expect(ch.stderr.isPaused()).toBe(true);
      if (streams === 'both') expect(ch.isPaused()).toBe(true);
    });
  }
});
