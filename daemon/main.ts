#!/usr/bin/env node
// Installed as dist/towerd (daemon/towerd.sh), which starts this file with the V8 flags towerd is measured with;
// run directly it gets V8's defaults.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { LogLevelName, TOWER_VERSION } from '../protocol/index.js';
import { LogRing, createLogger } from './core/log.js';
import { defaultSocketPath, resolvePaths } from './shared/paths.js';
import { AlreadyRunningError } from './core/socket.js';
import { Towerd } from './towerd.js';

const HELP = `Usage: towerd [--socket PATH] [--log-level LEVEL] [--no-supervise]

The Tower daemon: keeps the host registry (~/.local/tower), serves the JSON-RPC API that towerctl and status
bars use, and (with supervision) one SSH connection per host.

Options:
  --socket PATH       listen here (default: $XDG_RUNTIME_DIR/tower/towerd.sock, or /tmp/tower-$UID/towerd.sock)
  --log-level LEVEL   trace, debug, info, warn, error or fatal (default: from towerd.json, else info)
  --no-supervise      keep the registry and the API but never connect to hosts (overrides towerd.json)
  --version           print the version and exit
  -h, --help          print this help and exit

Signals: SIGTERM/SIGINT stop cleanly and remove the socket; SIGHUP reloads towerd.json and the registry.
Logs: JSON lines on stderr (pipe through pino-pretty to read them), also kept in memory for 'towerctl logs'.
Exit status: 0 after a clean stop, 1 on a start-up error, 2 on a bad command line.
`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        socket: { type: 'string' },
        'log-level': { type: 'string' },
        'no-supervise': { type: 'boolean' },
        version: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`towerd: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`towerd ${TOWER_VERSION}\n`);
    return 0;
  }
  const level = values['log-level'];
  if (level !== undefined && !LogLevelName.safeParse(level).success) {
    process.stderr.write(`towerd: --log-level must be one of ${LogLevelName.options.join(', ')}\n`);
    return 2;
  }
  const ring = new LogRing();
  const log = createLogger((level as LogLevelName | undefined) ?? 'info', ring);
  const socketPath = values.socket ? resolve(values.socket) : defaultSocketPath();
  const daemon = new Towerd({ paths: resolvePaths(), socketPath, log, ring, logLevelFromCli: level, supervise: values['no-supervise'] ? false : undefined });
  // handlers first: a signal that arrives while starting must still stop cleanly
  let stopRequested: string | undefined;
  let reloadRequested = false;
  let started = false;
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((r) => (finish = r));
  const stop = (sig: string) => {
    stopRequested = sig;
    if (started) void daemon.stop(sig).then(() => finish(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading');
    // a SIGHUP while starting (the socket may already answer) is not lost: it reloads once start is done
    if (started) void daemon.reload();
    else reloadRequested = true;
  });
  try {
    await daemon.start();
  } catch (err) {
    const msg = err instanceof AlreadyRunningError ? err.message : `cannot start: ${(err as Error).message}`;
    log.fatal({ socket: socketPath }, msg);
    process.stderr.write(`towerd: ${msg}\n`);
    return 1;
  }
  started = true;
  if (stopRequested) stop(stopRequested);
  else if (reloadRequested) void daemon.reload();
  return done;
}

process.on('uncaughtException', (err) => {
  process.stderr.write(`towerd: uncaught exception: ${err.stack ?? err.message}\n`);
  process.exit(70);
});

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`towerd: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
