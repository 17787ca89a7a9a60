import { ErrorCode } from '../../protocol/index.js';
import { RpcError, type Implementation } from '../rpc/dispatch.js';
import { RegistryError } from '../registry/registry.js';
import type { ApiContext } from './context.js';

/** Registry failures carry a reason code; the client gets the matching JSON-RPC error. */
function toRpc(err: unknown): never {
  if (err instanceof RegistryError) throw new RpcError(ErrorCode[err.code], err.message);
  throw err;
}

export function hostsApi(ctx: ApiContext): Implementation {
  const find = (name: string) => {
    const host = ctx.registry.get(name);
    if (!host) throw new RpcError(ErrorCode.HostNotFound, `no host named ${name}`);
    return host;
  };
  return {
    'host.list': () => ({ hosts: ctx.registry.list().map((h) => ctx.states.info(h)) }),
    'host.get': ({ name }) => ctx.states.info(find(name)),
    'host.add': async (p) => {
      const r = await ctx.registry.add(p).catch(toRpc);
      ctx.log.info({ host: r.host.name, role: r.host.role, ip: r.host.ip, generatedKey: r.generatedKey }, 'host added');
      return { host: ctx.states.info(r.host), publicKey: r.publicKey, generatedKey: r.generatedKey };
    },
    'host.reconnect': ({ name }) => {
      const host = find(name);
      const session = ctx.supervisor()?.get(name);
      if (!session) throw new RpcError(ErrorCode.NotSupervised, 'towerd does not supervise hosts (started with --no-supervise, or "supervise": false in towerd.json)');
      session.reconnectNow();
      return ctx.states.info(host);
    },
    'host.remove': async ({ name, keepFiles }) => {
      const r = await ctx.registry.remove(name, keepFiles).catch(toRpc);
      ctx.log.info({ host: name, knownHostsLinesRemoved: r.knownHostsLinesRemoved, filesRemoved: r.filesRemoved }, 'host removed');
      return { name, ...r };
    },
  };
}
