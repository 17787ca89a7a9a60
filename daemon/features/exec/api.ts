import { randomBytes } from 'node:crypto';
import type { Core } from '../../core/feature.js';
import { ptyOptions, runCaptured, runStreamed } from '../../core/exec/run.js';
import type { Implementation } from '../../core/rpc/dispatch.js';
import type { HostSession } from '../../core/ssh/session.js';

export function execMethods(core: Core): Implementation {
  return {
    'exec.run': ({ host, argv, pty }, conn) => {
      const s = core.connected(host);
      const id = randomBytes(6).toString('hex');
      const ptyOpts = ptyOptions(pty);
      // argv is logged by length and name only: arguments may carry secrets
      core.log.info({ host, exec: id, command: argv[0] ?? '(shell)', args: Math.max(0, argv.length - 1), pty: Boolean(pty) }, 'exec');
      conn.upgradeAfterReply({
        start: (sock, rest) => {
          runStreamed(s, argv, ptyOpts, sock, rest)
            .then((info) => core.log.info({ host, exec: id, code: info.code, signal: info.signal ?? undefined, error: info.error }, 'exec finished'))
            .catch((err: unknown) => core.log.error({ host, exec: id, err: (err as Error).message }, 'exec failed'));
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
            s = core.connected(name);
          } catch (err) {
            return { name, ok: false, message: (err as Error).message };
          }
          const cmd = core.settings().poweroffCommand;
          core.log.info({ host: name }, 'powering off');
          try {
            const { code } = await runCaptured(s, cmd, 10_000);
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
