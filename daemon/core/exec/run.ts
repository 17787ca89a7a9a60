import type { Socket } from 'node:net';
import type { ClientChannel, PseudoTtyOptions } from 'ssh2';
import { StreamFrame, encodeFrame, type ExitInfo } from '../../../protocol/stream.js';
import { bridgeChannel, recordExit, recordedExit } from './stream.js';
import type { HostSession } from '../ssh/session.js';
import { shellJoin } from '../util/shell.js';

/** Open a session channel: `exec` of a quoted command line, or the login shell for an empty argv. */
export function openChannel(s: HostSession, argv: string[], pty: PseudoTtyOptions | undefined): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    const c = s.connection;
    if (!c) return reject(new Error(`${s.host.name} went offline`));
    const cb = (err: Error | undefined, ch: ClientChannel) => {
      if (err) return reject(err);
      recordExit(ch);
      resolve(ch);
    };
    if (argv.length) c.exec(shellJoin(argv), { pty: pty ?? false }, cb);
    else c.shell(pty ?? false, cb);
  });
}

export interface ChannelResult {
  /** null when the connection closed before the command reported a status */
  code: number | null;
  /** at most `maxBytes` of stdout */
  stdout: Buffer;
  /** bytes the command wrote to stdout, also those not kept */
  size: number;
  /** the start of stderr, for error messages */
  stderr: string;
}

/**
 * Run argv on the host to completion in a session slot, with `input` on its stdin: keep at most `maxBytes` of
 * stdout but count all of it (up to `countUpTo`, then the channel is closed), and the start of stderr.
 */
export function runChannel(s: HostSession, argv: string[], opts: { timeoutMs: number; input?: Buffer | string; maxBytes?: number; countUpTo?: number }): Promise<ChannelResult> {
  const maxBytes = opts.maxBytes ?? 1024 * 1024;
  const countUpTo = opts.countUpTo ?? Number.MAX_SAFE_INTEGER;
  return s.withSessionSlot(async () => {
    const ch = await openChannel(s, argv, undefined);
    s.trackChannel(ch);
    return new Promise<ChannelResult>((resolve) => {
      let code: number | null = null;
      const chunks: Buffer[] = [];
      let size = 0;
      let err = '';
      const timer = setTimeout(() => ch.close(), opts.timeoutMs);
      let exited: (() => void) | undefined;
      ch.on('exit', (c: number | null) => {
        code = c;
        exited?.();
      });
      ch.on('data', (b: Buffer) => {
        if (size < maxBytes) chunks.push(b.subarray(0, maxBytes - size));
        size += b.length;
        if (size > countUpTo) ch.close();
      });
      ch.stderr.on('data', (b: Buffer) => {
        if (err.length < 2000) err += b.toString('utf8');
      });
      const done = () => resolve({ code, stdout: Buffer.concat(chunks), size, stderr: err.trim().slice(0, 2000) });
      ch.on('close', () => {
        clearTimeout(timer);
        code ??= recordedExit(ch)?.code ?? null;
        if (code !== null) return done();
        // seen here: ssh2 can report the channel closed just before the exit status it already received
        const grace = setTimeout(done, 200);
        exited = () => {
          clearTimeout(grace);
          done();
        };
      });
      ch.end(opts.input);
    });
  });
}

export interface Captured {
  /** null when the connection closed before the command reported a status */
  code: number | null;
  stdout: string;
  /** the start of stderr, for error messages */
  stderr: string;
}

/** runChannel without input, stdout as text. */
export async function runCaptured(s: HostSession, argv: string[], timeoutMs: number, maxBytes = 1024 * 1024): Promise<Captured> {
  const r = await runChannel(s, argv, { timeoutMs, maxBytes });
  return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr.slice(0, 1000) };
}

/**
 * Run a command on the host with a client's (paused) socket as its terminal: open the channel in a session slot,
 * bridge it (exec/stream.ts), and resolve with its exit. A command that cannot start ends the stream with an Exit
 * frame that says why.
 */
export function runStreamed(s: HostSession, argv: string[], pty: PseudoTtyOptions | undefined, sock: Socket, rest: Buffer): Promise<ExitInfo> {
  return s.withSessionSlot(async () => {
    let ch: ClientChannel;
    try {
      ch = await openChannel(s, argv, pty);
    } catch (err) {
      const info: ExitInfo = { code: null, signal: null, error: `cannot start the command on ${s.host.name}: ${(err as Error).message}` };
      sock.resume();
      sock.end(encodeFrame(StreamFrame.Exit, JSON.stringify(info)));
      return info;
    }
    s.trackChannel(ch);
    return bridgeChannel(sock, rest, ch, s.host.name);
  });
}

export function ptyOptions(pty: { rows: number; cols: number; term: string } | undefined): PseudoTtyOptions | undefined {
  return pty ? { rows: pty.rows, cols: pty.cols, term: pty.term, width: 0, height: 0 } : undefined;
}
