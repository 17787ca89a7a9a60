import type { Socket } from 'node:net';
import { constants } from 'node:os';
import type { Command } from 'commander';
import type { ParamsIn } from '../protocol/index.js';
import type { PtyRequest } from '../protocol/pty.js';
import { StreamDecoder, StreamFrame, encodeFrame, type ExitInfo } from '../protocol/stream.js';
import { socketPath } from './context.js';
import { escapeControls } from './render.js';
import { TowerClient } from './rpc.js';

/**
 * The terminal side of a command running on a host: stdin to the command, its stdout/stderr to ours, terminal
 * size changes and (without a terminal) Ctrl-C as signals. Resolves with the command's exit status.
 */
export function runStream(sock: Socket, rest: Buffer, tty: boolean, out: NodeJS.WritableStream = process.stdout): Promise<ExitInfo> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    let exit: ExitInfo | undefined;
    let closed = false;
    /** false when the socket's buffer is full: the caller should wait for 'drain' */
    const send = (type: number, payload?: Buffer | string): boolean => (sock.destroyed ? true : sock.write(encodeFrame(type, payload)));
    const restore = () => {
      closed = true;
      if (tty && stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      process.off('SIGINT', onSigint);
      process.stdout.off('resize', onResize);
    };
    // with a terminal, Ctrl-C is a byte for the remote terminal; without one it becomes a signal
    const onSigint = () => void send(StreamFrame.Signal, JSON.stringify({ signal: 'INT' }));
    const onResize = () => void send(StreamFrame.Resize, JSON.stringify({ rows: process.stdout.rows, cols: process.stdout.columns }));
    if (tty && stdin.isTTY) stdin.setRawMode(true);
    process.on('SIGINT', onSigint);
    process.stdout.on('resize', onResize);
    // read stdin only as fast as towerd takes it (`tar c big | towerctl exec slowhost …` must not pile up here)
    let stdinWaiting = false;
    stdin.on('data', (d: Buffer) => {
      if (send(StreamFrame.Stdin, d) || stdinWaiting) return;
      stdinWaiting = true;
      stdin.pause();
      sock.once('drain', () => {
        stdinWaiting = false;
        if (!closed) stdin.resume();
      });
    });
    stdin.on('end', () => void send(StreamFrame.StdinEof));
    stdin.resume();

    const decoder = new StreamDecoder();
    const onData = (chunk: Buffer) => {
      const frames = decoder.push(chunk);
      if (frames === 'invalid') return sock.destroy();
      for (const f of frames) {
        if (f.type === StreamFrame.Stdout) out.write(f.payload);
        else if (f.type === StreamFrame.Stderr) process.stderr.write(f.payload);
        else if (f.type === StreamFrame.Exit) {
          try {
            exit = JSON.parse(f.payload.toString('utf8')) as ExitInfo;
          } catch {
            exit = { code: null, signal: null, error: 'towerd sent an unreadable exit status' };
          }
        }
      }
      // the exit status is the last frame: stdin that was not sent yet has nobody to read it
      if (exit) sock.destroy();
    };
    sock.on('data', onData);
    sock.resume();
    sock.on('error', () => undefined);
    sock.once('close', () => {
      restore();
      resolve(exit ?? { code: null, signal: null, error: 'the connection to towerd was lost' });
    });
    if (rest.length) onData(rest);
  });
}

/** The shell convention for a status: the code, 128 + signal number, or 255 when there is none (as ssh). */
export function exitStatus(e: ExitInfo): number {
  if (typeof e.code === 'number') return e.code;
  if (e.signal) {
    const n = (constants.signals as Record<string, number>)[`SIG${e.signal}`];
    if (n) return 128 + n;
  }
  return 255;
}

/** The terminal to ask the host for: this one's size and $TERM (when it is a plain terminal name). */
export function terminalRequest(): PtyRequest {
  const term = process.env.TERM && /^[A-Za-z0-9._+-]{1,64}$/.test(process.env.TERM) ? process.env.TERM : 'xterm-256color';
  return { rows: process.stdout.rows || 24, cols: process.stdout.columns || 80, term };
}

/**
 * Call a streaming method (exec.run, packages.run) with a terminal when `tty`, bridge the command to this
 * process's stdio, and return the status to exit with. `onResult` sees the reply before the stream starts.
 */
export async function runOnStream<M extends 'exec.run' | 'packages.run'>(
  cmd: Command,
  method: M,
  params: Omit<ParamsIn<M>, 'pty'>,
  tty: boolean,
  onResult: (result: { relayed?: boolean }) => void = () => undefined,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const client = await TowerClient.connect(socketPath(cmd));
  let up;
  try {
    up = await client.upgrade(method, { ...params, ...(tty ? { pty: terminalRequest() } : {}) } as ParamsIn<M>);
  } catch (err) {
    client.close();
    throw err;
  }
  onResult(up.result as { relayed?: boolean });
  const info = await runStream(up.sock, up.rest, tty, out);
  if (info.error) process.stderr.write(`towerctl: ${escapeControls(info.error)}\n`);
  return exitStatus(info);
}
