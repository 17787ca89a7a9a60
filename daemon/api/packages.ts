import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ErrorCode } from '../../protocol/index.js';
import { connectedSession, ptyOptions, runCaptured, runStreamed } from '../exec/run.js';
import { apkArgv, privilegeMissingMessage, privilegeProbe } from '../packages/command.js';
import type { OpenRelay } from '../packages/relays.js';
import { hostDir } from '../paths.js';
import { RpcError, type Implementation } from '../rpc/dispatch.js';
import type { HostSession } from '../ssh/session.js';
import { writeFileAtomic } from '../util/fs.js';
import type { ApiContext } from './context.js';

/** After a change, keep the host's list of explicitly installed packages where TowerOS kept it. */
export async function saveWorld(ctx: Pick<ApiContext, 'settings' | 'log' | 'paths'>, s: HostSession): Promise<void> {
  const file = ctx.settings().packages.worldFile;
  // a read that ends without an exit status (seen now and then right after apk, cause not yet known) is tried again
  let r = await runCaptured(s, ['cat', file], 10_000);
  for (let i = 0; i < 2 && r.code === null && s.connection; i++) r = await runCaptured(s, ['cat', file], 10_000);
  if (r.code !== 0) {
    ctx.log.warn({ host: s.host.name, file, code: r.code, stderr: r.stderr }, 'could not read the world file');
    return;
  }
  // one package name per line; anything else is not a world file and is not stored
  const lines = r.stdout.split('\n').filter(Boolean);
  if (!lines.every((l) => /^[a-z0-9][a-z0-9+._<>=~-]{0,200}$/.test(l))) {
    ctx.log.warn({ host: s.host.name, file }, 'the world file does not look like one; not saved');
    return;
  }
  await writeFileAtomic(join(hostDir(ctx.paths, s.host.name), 'world'), lines.map((l) => l + '\n').join(''), 0o600);
  ctx.log.info({ host: s.host.name, packages: lines.length }, 'world saved');
}

export function packagesApi(ctx: ApiContext): Implementation {
  return {
    'packages.run': async ({ host, action, packages, pty }, conn) => {
      const s = connectedSession(ctx, host);
      // a missing sudo would only show as the host shell's "sudo: command not found" in apk's stream
      const probe = privilegeProbe(ctx.settings().packages);
      if (probe) {
        const r = await runCaptured(s, probe, 10_000);
        if (r.code !== 0 && r.code !== null) throw new RpcError(ErrorCode.CommandMissing, privilegeMissingMessage(host, ctx.settings().packages));
      }
      const relayed = s.host.role === 'offline';
      let relay: OpenRelay | undefined;
      if (relayed) {
        try {
          relay = await ctx.relays.open(host);
        } catch (err) {
          throw new RpcError(ErrorCode.HostUnavailable, `cannot relay packages for ${host}: ${(err as Error).message}`);
        }
      }
      const argv = apkArgv(ctx.settings().packages, action, packages, { proxyUrl: relay?.url, progress: Boolean(pty) });
      const id = randomBytes(6).toString('hex');
      ctx.log.info({ host, job: id, action, packages, relayed }, 'packages');
      conn.upgradeAfterReply({
        start: (sock, rest) => {
          runStreamed(s, argv, ptyOptions(pty), sock, rest)
            .then(async (info) => {
              ctx.log.info({ host, job: id, code: info.code, error: info.error }, 'packages finished');
              // the world file is read over the host's own connection: it does not wait for the relay to close
              if (info.code === 0) await saveWorld(ctx, s).finally(() => relay?.close());
              else await relay?.close();
            })
            .catch((err: unknown) => {
              void relay?.close();
              ctx.log.error({ host, job: id, err: (err as Error).message }, 'packages failed');
            });
        },
        cancel: () => void relay?.close(),
      });
      return { id, relayed };
    },
    'packages.audit': ({ host, limit }) => ({ hosts: ctx.relayAudit.summary(host, limit) }),
  };
}
