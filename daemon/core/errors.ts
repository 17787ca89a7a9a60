import type { ErrorCodeName } from '../../protocol/index.js';

/**
 * A failure the user can act on: a code from protocol/errors.ts and a message that names the host and what to do.
 * Features throw it; only rpc/ turns it into a JSON-RPC error. Anything else thrown is an internal error.
 */
export class TowerError extends Error {
  constructor(
    readonly code: ErrorCodeName,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** towerd was started without host supervision: nothing that needs a connection can work. */
export function notSupervised(what?: string): TowerError {
  return new TowerError('NotSupervised', `towerd does not supervise hosts (started with --no-supervise, or "supervise": false in towerd.json)${what ? `: ${what}` : ''}`);
}

export function noSuchHost(name: string): TowerError {
  return new TowerError('HostNotFound', `no host named ${name}`);
}

/** The host is registered and supervised but not connected right now; `state` says how it stands. */
export function notConnected(name: string, state: { state: string; lastError: string | null }): TowerError {
  return new TowerError('HostUnavailable', `${name} is not connected (${state.state}${state.lastError ? `: ${state.lastError}` : ''})`);
}
