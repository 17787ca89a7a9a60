import type { Socket } from 'node:net';
import type { ClientChannel, PseudoTtyOptions } from 'ssh2';
import { StreamFrame, encodeFrame, type ExitInfo } from '../../protocol/stream.js';
import { bridgeChannel } from './stream.js';
import { ErrorCode } from '../../protocol/index.js';
import type { ApiContext } from '../api/context.js';
import { RpcError } from '../rpc/dispatch.js';
import type { HostSession } from '../ssh/session.js';
import { shellJoin } from '../util/shell.js';

/** The host's session if it is connected now; otherwise the JSON-RPC error that says why not. */
export function connectedSession(ctx: Pick<ApiContext, 'registry' | 'supervisor'>, name: string): HostSession {
  if (!ctx.registry.get(name)) throw new RpcError(ErrorCode.HostNotFound, `no host named ${name}`);
  const s = ctx.supervisor()?.get(name);
  if (!s) throw new RpcError(ErrorCode.NotSupervised, 'towerd does not supervise hosts (--no-supervise or "supervise": false)');
  if (!s.connection) throw new RpcError(ErrorCode.HostUnavailable, `${name} is not connected (${s.state.state}${s.state.lastError ? `: ${s.state.lastError}` : ''})`);
  return s;
}

/** Open a session channel: `exec` of a quoted command line, or the login shell for an empty argv. */
export function openChannel(s: HostSession, argv: string[], pty: PseudoTtyOptions | undefined): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    const c = s.connection;
    if (!c) return reject(new Error(`${s.host.name} went offline`));
    const cb = (err: Error | undefined, ch: ClientChannel) => (err ? reject(err) : resolve(ch));
    if (argv.length) c.exec(shellJoin(argv), { pty: pty ?? false }, cb);
    else c.shell(pty ?? false, cb);
  });
}

export interface Captured {
  /** null when the connection closed before the command reported a status */
  code: number | null;
  stdout: string;
  /** the start of stderr, for error messages */
  stderr: string;
}

/**
 * Run a command to completion without a client stream, keeping at most `maxBytes` of its stdout (stderr is
 * drained). Takes a session slot like every command.
 */
export function runCaptured(s: HostSession, argv: string[], timeoutMs: number, maxBytes = 1024 * 1024): Promise<Captured> {
  return s.withSessionSlot(
    () =>
      new Promise<Captured>((resolve, reject) => {
        openChannel(s, argv, undefined).then((ch) => {
          s.trackChannel(ch);
          let code: number | null = null;
          const chunks: Buffer[] = [];
          let size = 0;
          const timer = setTimeout(() => ch.close(), timeoutMs);
          let exited: (() => void) | undefined;
          ch.on('exit', (c: number | null) => {
            code = c;
            exited?.();
          });
          ch.on('data', (b: Buffer) => {
            if (size < maxBytes) chunks.push(b.subarray(0, maxBytes - size));
            size += b.length;
          });
          let err = '';
          ch.stderr.on('data', (b: Buffer) => {
            if (err.length < 1000) err += b.toString('utf8');
          });
          const done = () => resolve({ code, stdout: Buffer.concat(chunks).toString('utf8'), stderr: err.slice(0, 1000) });
          ch.on('close', () => {
            clearTimeout(timer);
            if (code !== null) return done();
            // seen here: ssh2 can report the channel closed just before the exit status it already received
            const grace = setTimeout(done, 200);
            exited = () => {
              clearTimeout(grace);
              done();
            };
          });
          ch.end();
        }, reject);
      }),
  );
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
