import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import { StreamDecoder, StreamFrame, encodeFrame, type ExitInfo } from '../../../protocol/stream.js';

/** Signals a client may ask for (SSH names, RFC 4254 §6.10). */
const SIGNALS = new Set(['INT', 'TERM', 'HUP', 'QUIT', 'KILL', 'USR1', 'USR2', 'WINCH']);

/**
 * Exit statuses seen from the moment a command's channel exists. ssh2 parses a whole received chunk at once: for a
 * short command the exec reply, its output, its exit status and the channel's close can arrive together, and the
 * 'exit' event then fires before the code awaiting the exec reply has attached its own listeners (output is
 * buffered by the stream until read; the exit event is not).
 */
const exits = new WeakMap<ClientChannel, { code: number | null; signal: string | null }>();

export function recordExit(ch: ClientChannel): void {
  ch.once('exit', (code: number | null, signal?: string) => exits.set(ch, { code: typeof code === 'number' ? code : null, signal: signal ? signal.replace(/^SIG/, '') : null }));
}

/** The exit recorded by recordExit, if it came. */
export function recordedExit(ch: ClientChannel): { code: number | null; signal: string | null } | undefined {
  return exits.get(ch);
}

/**
 * Carry one command's channel over a client's socket as binary frames, with backpressure both ways. Ends with
 * one Exit frame: the command's status, or why it has none (the connection to the host was lost).
 */
export function bridgeChannel(sock: Socket, rest: Buffer, ch: ClientChannel, hostName: string): Promise<ExitInfo> {
  return new Promise((resolve) => {
    let exit: ExitInfo | undefined;
    let finished = false;
    const send = (type: number, payload: Buffer | string) => {
      if (sock.destroyed) return true;
      return sock.write(encodeFrame(type, payload));
    };
    // stdout and stderr share the socket: whichever stream's data filled it is paused (the other is paused too
    // the moment it adds more), and one 'drain' listener at a time resumes both
    let outWaiting = false;
    const resumeOut = () => {
      outWaiting = false;
      ch.resume();
      ch.stderr.resume();
    };
    const pumpOut = (type: number, from: Readable) => (d: Buffer) => {
      if (send(type, d)) return;
      from.pause();
      if (outWaiting) return;
      outWaiting = true;
      sock.once('drain', resumeOut);
    };
    ch.on('data', pumpOut(StreamFrame.Stdout, ch));
    ch.stderr.on('data', pumpOut(StreamFrame.Stderr, ch.stderr));
    ch.on('exit', (code: number | null, signal?: string) => {
      // ssh2 reports signals as SIGTERM; the stream carries the SSH name (TERM)
      exit = { code: typeof code === 'number' ? code : null, signal: signal ? signal.replace(/^SIG/, '') : null };
    });
    const finish = (info: ExitInfo) => {
      if (finished) return;
      finished = true;
      // the client may still be sending stdin the command will never read: take it and drop it, or neither side
      // could finish (its writes wait for us to read, our end waits for its)
      sock.off('data', onIn);
      sock.on('data', () => undefined);
      sock.resume();
      if (!sock.destroyed) {
        sock.write(encodeFrame(StreamFrame.Exit, JSON.stringify(info)));
        sock.end();
      }
      resolve(info);
    };
    ch.on('close', () => finish(exit ?? recordedExit(ch) ?? { code: null, signal: null, error: `the connection to ${hostName} was lost` }));

    const decoder = new StreamDecoder();
    let inWaiting = false;
    const onIn = (chunk: Buffer) => {
      const frames = decoder.push(chunk);
      if (frames === 'invalid') {
        sock.destroy();
        return;
      }
      for (const f of frames) {
        switch (f.type) {
          case StreamFrame.Stdin:
            // one chunk from the socket may hold many frames: one 'drain' listener, not one per frame
            if (!ch.write(f.payload) && !inWaiting) {
              inWaiting = true;
              sock.pause();
              ch.once('drain', () => {
                inWaiting = false;
                sock.resume();
              });
            }
            break;
          case StreamFrame.StdinEof:
            ch.end();
            // an ending stream emits no 'drain': reading must not wait for one (signals and resizes still come)
            if (inWaiting) {
              inWaiting = false;
              sock.resume();
            }
            break;
          case StreamFrame.Resize: {
            const r = parseJson(f.payload) as { rows?: unknown; cols?: unknown } | undefined;
            if (r && Number.isInteger(r.rows) && Number.isInteger(r.cols) && (r.rows as number) > 0 && (r.cols as number) > 0 && (r.rows as number) <= 1000 && (r.cols as number) <= 1000)
              ch.setWindow(r.rows as number, r.cols as number, 0, 0);
            break;
          }
          case StreamFrame.Signal: {
            const s = parseJson(f.payload) as { signal?: unknown } | undefined;
            if (s && typeof s.signal === 'string' && SIGNALS.has(s.signal)) ch.signal(s.signal);
            break;
          }
          default:
            sock.destroy(); // not a client frame: the peer is not speaking this protocol
        }
      }
    };
    sock.on('data', onIn);
    sock.resume();
    // the client went away: the command loses its terminal/stdin as with a dropped ssh
    sock.once('close', () => {
      if (!finished) ch.close();
    });
    sock.on('error', () => undefined);
    if (rest.length) onIn(rest);
  });
}

function parseJson(b: Buffer): unknown {
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    return undefined;
  }
}
