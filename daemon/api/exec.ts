import { randomBytes } from 'node:crypto';
import type { ClientChannel, PseudoTtyOptions } from 'ssh2';
import { ErrorCode } from '../../protocol/index.js';
import { StreamFrame, encodeFrame } from '../../protocol/stream.js';
import { bridgeChannel } from '../exec/stream.js';
import { RpcError, type Implementation } from '../rpc/dispatch.js';
import type { HostSession } from '../ssh/session.js';
import { shellJoin } from '../util/shell.js';
import type { ApiContext } from './context.js';

function connectedSession(ctx: ApiContext, name: string): HostSession {
  if (!ctx.registry.get(name)) throw new RpcError(ErrorCode.HostNotFound, `no host named ${name}`);
  const s = ctx.supervisor()?.get(name);
  if (!s) throw new RpcError(ErrorCode.NotSupervised, 'towerd does not supervise hosts (--no-supervise or "supervise": false)');
  if (!s.connection) throw new RpcError(ErrorCode.HostUnavailable, `${name} is not connected (${s.state.state}${s.state.lastError ? `: ${s.state.lastError}` : ''})`);
  return s;
}

/** Open a session channel: `exec` of a quoted command line, or the login shell for an empty argv. */
function openChannel(s: HostSession, argv: string[], pty: PseudoTtyOptions | undefined): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    const c = s.connection;
    if (!c) return reject(new Error(`${s.host.name} went offline`));
    const cb = (err: Error | undefined, ch: ClientChannel) => (err ? reject(err) : resolve(ch));
    if (argv.length) c.exec(shellJoin(argv), { pty: pty ?? false }, cb);
    else c.shell(pty ?? false, cb);
  });
}

/** Run a command to completion without a client stream (poweroff). Resolves with its status, or null when the connection closed first. */
function runQuiet(s: HostSession, argv: string[], timeoutMs: number): Promise<number | null> {
  return s.withSessionSlot(
    () =>
      new Promise<number | null>((resolve, reject) => {
        openChannel(s, argv, undefined).then((ch) => {
          s.trackChannel(ch);
          let code: number | null = null;
          const timer = setTimeout(() => ch.close(), timeoutMs);
          ch.on('exit', (c: number | null) => (code = c));
          ch.on('close', () => {
            clearTimeout(timer);
            resolve(code);
          });
          ch.resume();
          ch.stderr.resume();
          ch.end();
        }, reject);
      }),
  );
}

export function execApi(ctx: ApiContext): Implementation {
  return {
    'exec.run': ({ host, argv, pty }, conn) => {
      const s = connectedSession(ctx, host);
      const id = randomBytes(6).toString('hex');
      const ptyOpts = pty ? { rows: pty.rows, cols: pty.cols, term: pty.term, width: 0, height: 0 } : undefined;
      // argv is logged by length and name only: arguments may carry secrets
      ctx.log.info({ host, exec: id, command: argv[0] ?? '(shell)', args: Math.max(0, argv.length - 1), pty: Boolean(pty) }, 'exec');
      conn.upgradeAfterReply({
        start: (sock, rest) => {
          void s
            .withSessionSlot(async () => {
              let ch: ClientChannel;
              try {
                ch = await openChannel(s, argv, ptyOpts);
              } catch (err) {
                sock.resume();
                sock.end(encodeFrame(StreamFrame.Exit, JSON.stringify({ code: null, signal: null, error: `cannot start the command on ${host}: ${(err as Error).message}` })));
                return;
              }
              s.trackChannel(ch);
              const info = await bridgeChannel(sock, rest, ch, host);
              ctx.log.info({ host, exec: id, code: info.code, signal: info.signal ?? undefined, error: info.error }, 'exec finished');
            })
            .catch((err: unknown) => ctx.log.error({ host, exec: id, err: (err as Error).message }, 'exec failed'));
        },
        cancel: () => undefined,
      });
      return { id };
    },
    'host.poweroff': async ({ names }) => {
      const results = await Promise.all(
        names.map(async (name) => {
          let s: HostSession;
          try {
            s = connectedSession(ctx, name);
          } catch (err) {
            return { name, ok: false, message: (err as Error).message };
          }
          const cmd = ctx.settings().poweroffCommand;
          ctx.log.info({ host: name }, 'powering off');
          try {
            const code = await runQuiet(s, cmd, 10_000);
            // a host that powers off may close the connection before reporting a status
            if (code === 0 || code === null) return { name, ok: true, message: code === 0 ? 'powering off' : 'connection closed: powering off' };
            return { name, ok: false, message: `${cmd.join(' ')} exited with ${code}` };
          } catch (err) {
            return { name, ok: false, message: (err as Error).message };
          }
        }),
      );
      return { results };
    },
  };
}
