import ssh2, { type ClientChannel, type ServerChannel } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { sshExecServer } from '../helpers/ssh-exec-server.js';

const { Client } = ssh2;

// ssh2's own window and packet size for a channel it opens (lib/Channel.js)
const WINDOW = 2 * 1024 * 1024;
// odd-sized: 65 of them step over the window without ever landing on exactly 0
const PACKET = 32_767;
const FLOOD = 16 * 1024 * 1024;

interface Raw {
  _client: { _protocol: { channelData(id: number, d: Buffer): void; channelExtData(id: number, d: Buffer, type: number): void; exitStatus(id: number, code: number): void } };
  outgoing: { id: number };
}

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

/**
 * A host that ignores the window: once the command runs it writes FLOOD bytes as raw CHANNEL_DATA (or stderr
 * CHANNEL_EXTENDED_DATA) packets straight through the server's protocol object, bypassing ssh2's own window
 * accounting, then the exit status, which towerd sees at once (requests take no window).
 */
function hostileHost(kind: 'stdout' | 'stderr'): Promise<number> {
  return sshExecServer((acceptExec) => {
    const ch = acceptExec() as ServerChannel & Raw;
    const proto = ch._client._protocol;
    const chunk = Buffer.alloc(PACKET, 0x79);
    for (let sent = 0; sent < FLOOD; sent += PACKET) {
      if (kind === 'stdout') proto.channelData(ch.outgoing.id, chunk);
      else proto.channelExtData(ch.outgoing.id, chunk, 1);
    }
    proto.exitStatus(ch.outgoing.id, 0);
  }, closers);
}

describe('ssh2 (patched): a peer that sends beyond the channel window', () => {
  for (const kind of ['stdout', 'stderr'] as const) {
    it(`is disconnected as a protocol error instead of being buffered (${kind}, paused channel)`, async () => {
      const port = await hostileHost(kind);
      const client = new Client();
      closers.push(() => client.destroy());
      let ch: ClientChannel | undefined;
      // whichever comes first: the client's protocol error (patched) or the exit status after the whole flood
      const outcome = await new Promise<{ error?: Error & { level?: string }; exitedAfter?: number }>((resolve) => {
        client.on('error', (error) => resolve({ error }));
        client.on('ready', () => {
          client.exec('flood', (err, c) => {
            if (err) throw err;
            ch = c;
            // no 'data' listener and paused: nothing is read, as when towerd's client stops reading
            c.pause();
            c.stderr.pause();
            c.on('exit', () => resolve({ exitedAfter: c.readableLength + c.stderr.readableLength }));
          });
        });
        client.connect({ host: '127.0.0.1', port, username: 'tower', hostVerifier: () => true });
      });
      expect(outcome.exitedAfter, `the client buffered ${outcome.exitedAfter} bytes on a paused channel`).toBeUndefined();
      expect(outcome.error?.message).toMatch(new RegExp(`Inbound: ${kind === 'stdout' ? 'CHANNEL_DATA' : 'CHANNEL_EXTENDED_DATA'} beyond the window`));
      expect(outcome.error?.level).toBe('protocol');
      // what was accepted before the overrun: the stream's high-water mark (one window) plus the window granted
      // while it filled
      expect(ch!.readableLength + ch!.stderr.readableLength).toBeLessThanOrEqual(2 * WINDOW);
      await new Promise<void>((r) => (client as unknown as { _sock: { destroyed: boolean } })._sock.destroyed ? r() : client.once('close', () => r()));
    });
  }
});
