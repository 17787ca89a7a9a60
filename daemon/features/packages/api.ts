import { randomBytes } from 'node:crypto';
import type { Core } from '../../core/feature.js';
import type { PackagesPort } from '../../core/ports.js';
import { ptyOptions, runStreamed } from '../../core/exec/run.js';
import type { RelayTrail } from './relay/trail.js';
import type { Implementation } from '../../core/rpc/dispatch.js';
import { worldDiff } from './world.js';

export function packageMethods(core: Core, apk: PackagesPort, trail: RelayTrail): Implementation {
  return {
    'packages.run': async ({ host, action, packages, pty }, conn) => {
      const run = await apk.open(host);
      const argv = run.argv(action, packages, { progress: Boolean(pty) });
      const id = randomBytes(6).toString('hex');
      core.log.info({ host, job: id, action, packages, relayed: run.relayed }, 'packages');
      conn.upgradeAfterReply({
        start: (sock, rest) => {
          runStreamed(run.session, argv, ptyOptions(pty), sock, rest)
            .then(async (info) => {
              core.log.info({ host, job: id, code: info.code, error: info.error }, 'packages finished');
              // the world file is read over the host's own connection: it does not wait for the relay to close
              if (info.code === 0) await run.saveWorld().finally(() => run.close());
              else await run.close();
            })
            .catch((err: unknown) => {
              void run.close();
              core.log.error({ host, job: id, err: (err as Error).message }, 'packages failed');
            });
        },
        cancel: () => void run.close(),
      });
      return { id, relayed: run.relayed };
    },
    'packages.world': ({ host, text, from }) => worldDiff(core, host, text === undefined ? undefined : { text, from }),
    'relay.trail': ({ host, limit }) => ({ hosts: trail.summary(host, limit) }),
  };
}
