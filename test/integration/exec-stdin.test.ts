import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamDecoder, StreamFrame, encodeFrame } from '../../protocol/stream.js';
import { TOWERCTL, tempHome } from '../helpers/towerd.js';

const MiB = 1024 * 1024;

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

/** towerctl's peak resident set, from /proc while it still runs. */
function peakRssKiB(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

describe('towerctl exec: stdin towards a host that reads slowly', () => {
  it('reads stdin only as fast as towerd takes it (32 MiB through a slow reader)', async () => {
    const home = tempHome('tower-stdin-');
    const sockPath = join(home, 'towerd.sock');
    // stands in for towerd: answers exec.run, switches to the stream, then takes at most one chunk per 5 ms
    let received = 0;
    const hash = createHash('sha256');
    let towerctlPid = 0;
    let peakKiB = NaN;
    server = createServer((c) => {
      c.on('error', () => undefined);
      let head = Buffer.alloc(0);
      const decoder = new StreamDecoder();
      const onStream = (chunk: Buffer) => {
        const frames = decoder.push(chunk);
        if (frames === 'invalid') throw new Error('towerctl sent an invalid frame');
        for (const f of frames) {
          if (f.type === StreamFrame.Stdin) {
            received += f.payload.length;
            hash.update(f.payload);
          } else if (f.type === StreamFrame.StdinEof) {
            peakKiB = peakRssKiB(towerctlPid);
            c.end(encodeFrame(StreamFrame.Exit, JSON.stringify({ code: 0, signal: null })));
          }
        }
        c.pause();
        setTimeout(() => c.resume(), 5);
      };
      const onHead = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const nl = head.indexOf(0x0a);
        if (nl < 0) return;
        const req = JSON.parse(head.subarray(0, nl).toString('utf8')) as { id: number; method: string };
        expect(req.method).toBe('exec.run');
        c.off('data', onHead);
        c.write(`${JSON.stringify({ jsonrpc: '2.0', id: req.id, result: {} })}\n`);
        c.on('data', onStream);
        if (nl + 1 < head.length) onStream(head.subarray(nl + 1));
      };
      c.on('data', onHead);
    }).listen(sockPath);
    await new Promise((r) => server!.once('listening', r));

    const p = spawn(process.execPath, [TOWERCTL, '--socket', sockPath, 'exec', 'slowhost', '--', 'tar', 'x'], {
      env: { PATH: process.env.PATH, HOME: home },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    towerctlPid = p.pid!;

    // as `tar c big |`: write as fast as the pipe takes it, and record how far ahead of the reader we get
    const total = 32 * MiB;
    const chunk = Buffer.alloc(64 * 1024);
    const sent = createHash('sha256');
    let written = 0;
    let ahead = 0;
    for (let i = 0; written < total; i++) {
      chunk.fill(i & 0xff);
      sent.update(chunk);
      written += chunk.length;
      const more = p.stdin.write(Buffer.from(chunk));
      ahead = Math.max(ahead, written - received);
      if (!more) await new Promise((r) => p.stdin.once('drain', r));
    }
    p.stdin.end();
    expect(await exited, stderr).toBe(0);
    console.log(`stdin: ${total / MiB} MiB sent; at most ${(ahead / MiB).toFixed(2)} MiB ahead of the reader; towerctl peak RSS ${(peakKiB / 1024).toFixed(0)} MiB`);
    expect(received).toBe(total);
    expect(hash.digest('hex')).toBe(sent.digest('hex'));
    // the pipe, towerctl's stream buffers and the socket's kernel buffers: about 1 MiB, not the whole input
    expect(ahead).toBeLessThan(4 * MiB);
  });
});
