import { JSONRPCErrorException } from 'json-rpc-2.0';
import type { $ZodError } from 'zod/v4/core';
import { ErrorCode, methods, type MethodName, type Params, type Result } from '../../../protocol/index.js';
import { TowerError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Connection, MethodHandler } from './server.js';

/** What an API module implements: a typed function per method it owns. */
export type Implementation = {
  [M in MethodName]?: (params: Params<M>, conn: Connection) => Promise<Result<M>> | Result<M>;
};

/** Turns zod issues into the `data` of an Invalid params error: each with its path, e.g. `["name"]`. */
export function issuesData(error: $ZodError): { issues: { path: (string | number)[]; message: string; code: string }[] } {
  return {
    issues: error.issues.map((i) => ({
      path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
      message: i.message,
      code: i.code,
    })),
  };
}

/**
 * Wrap each implementation: params are parsed by the protocol schema (failures become -32602 with the issue
 * paths), a TowerError reaches the client with its code and message, results are checked against the result schema, and unexpected errors become -32603 without details
 * (the details go to the log, not to the client).
 */
export function bindMethods(impl: Implementation, log: Logger): Record<string, MethodHandler> {
  const out: Record<string, MethodHandler> = {};
  for (const name of Object.keys(methods) as MethodName[]) {
    const fn = impl[name] as ((p: unknown, c: Connection) => unknown) | undefined;
    if (!fn) throw new Error(`no implementation for method ${name}`);
    const spec = methods[name];
    out[name] = async (raw, conn) => {
      const parsed = spec.params.safeParse(raw ?? {});
      if (!parsed.success) throw new JSONRPCErrorException('Invalid params', ErrorCode.InvalidParams, issuesData(parsed.error));
      let result: unknown;
      try {
        result = await fn(parsed.data, conn);
      } catch (err) {
        if (err instanceof TowerError) throw new JSONRPCErrorException(err.message, ErrorCode[err.code], err.data);
        log.error({ method: name, err: err instanceof Error ? err.stack ?? err.message : String(err) }, 'method failed');
        throw new JSONRPCErrorException('Internal error', ErrorCode.InternalError);
      }
      const checked = spec.result.safeParse(result);
      if (!checked.success) {
        log.error({ method: name, issues: issuesData(checked.error).issues }, 'result does not match the protocol');
        throw new JSONRPCErrorException('Internal error', ErrorCode.InternalError);
      }
      return checked.data;
    };
  }
  return out;
}
