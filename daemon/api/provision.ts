import { ErrorCode } from '../../protocol/index.js';
import { ImageError } from '../provision/image.js';
import { ProvisionError, planProvision, runProvision, type ProvisionDeps } from '../provision/job.js';
import { MaterialError } from '../provision/material.js';
import { TargetRefusedError } from '../provision/target.js';
import { RegistryError } from '../registry/registry.js';
import { RpcError, type Implementation } from '../rpc/dispatch.js';
import type { ApiContext } from './context.js';

/** Failures the user can act on reach the client with their own code and message; anything else is internal. */
function toRpc(err: unknown): never {
  if (err instanceof RegistryError) throw new RpcError(ErrorCode[err.code], err.message);
  if (err instanceof TargetRefusedError) throw new RpcError(ErrorCode.TargetRefused, err.message);
  if (err instanceof ImageError) throw new RpcError(ErrorCode.ImageInvalid, err.message);
  if (err instanceof MaterialError) throw new RpcError(ErrorCode.InvalidParams, err.message);
  if (err instanceof ProvisionError) throw new RpcError(ErrorCode.ProvisionFailed, err.message);
  throw err;
}

export function provisionApi(ctx: ApiContext): Implementation {
  const deps: ProvisionDeps = {
    paths: ctx.paths,
    registry: ctx.registry,
    settings: () => ctx.settings(),
    supervised: () => ctx.supervisor() !== undefined,
    publish: (e) => ctx.hub.publish(e),
    info: (name) => {
      const h = ctx.registry.get(name);
      if (!h) throw new ProvisionError(`${name} vanished from the registry while it was being provisioned`);
      return ctx.states.info(h);
    },
    log: ctx.log,
  };
  /** one job per target and per host name at a time */
  const busy = new Set<string>();
  return {
    'provision.check': async (p) => (await planProvision(deps, p).catch(toRpc)).plan,
    'provision.run': async (p, conn) => {
      const keys = [`target:${p.target.path}`, `host:${p.name}`];
      const taken = keys.find((k) => busy.has(k));
      if (taken) throw new RpcError(ErrorCode.TargetRefused, `a provisioning of ${taken.slice(taken.indexOf(':') + 1)} is already running`);
      for (const k of keys) busy.add(k);
      // the job belongs to the client that asked for it: when that connection goes (Ctrl-C), the write stops
      const abort = new AbortController();
      const watch = setInterval(() => {
        if (conn.closed) abort.abort(new Error('the client went away'));
      }, 200);
      try {
        return await runProvision(deps, p, abort.signal).catch(toRpc);
      } finally {
        clearInterval(watch);
        for (const k of keys) busy.delete(k);
      }
    },
  };
}
