import type { Command } from 'commander';
import { defaultSocketPath } from '../daemon/shared/paths.js';
import { TowerClient } from './rpc.js';

/** A bad command line: towerctl exits with the usage code. */
export class UsageError extends Error {}

export interface GlobalOptions {
  socket?: string;
}

/** The socket from --socket (on any level), $TOWER_SOCKET, or the default under $XDG_RUNTIME_DIR. */
export function socketPath(cmd: Command): string {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  return opts.socket ?? defaultSocketPath();
}

/** Open a connection for the duration of `fn`. */
export async function withClient<T>(cmd: Command, fn: (client: TowerClient) => Promise<T>): Promise<T> {
  const client = await TowerClient.connect(socketPath(cmd));
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

export function print(text: string): void {
  process.stdout.write(text);
}
