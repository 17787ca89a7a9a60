// Command line for the Tower lab: `npx tsx test/lab/cli.ts up|down|cut|restore|status|add …`.
// `up` leaves the lab running after the CLI exits; later commands find it through its state file.
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_PREFIX, attachLab, labDownPrefix, labUp, stateDir } from './lab.js';
import { labStatus } from './status.js';
import type { CutMode } from './types.js';

const HELP = `Usage: npx tsx test/lab/cli.ts <command> [options]

A TowerOS lab of real OpenSSH hosts in Linux namespaces (root only). See test/lab/README.md.

Commands:
  up [--online N] [--offline N] [--no-router] [--prefix P] [--home DIR] [--user U]
        Start a lab and print a JSON summary. The lab keeps running after this exits.
        --home defaults to /run/tower-lab-<prefix>/home (removed again by \`down\`).
  down [--prefix P]            Remove the lab: processes, namespaces, mounts, state. Idempotent.
  cut HOST [--carrier] [--prefix P]
        Unplug HOST from its switch (silent black hole); --carrier sets the port down instead.
  restore HOST [--prefix P]    Plug HOST back in.
  add HOST [--role online|offline] [--prefix P]
        Provision and boot one more host (default online).
  status [--prefix P]          Print the lab's live state as JSON.

Options:
  --prefix P   namespace prefix (default ${DEFAULT_PREFIX})
  -h, --help   show this help

Example:
  npx tsx test/lab/cli.ts up --online 2 --offline 1
  nsenter --net=/run/netns/${DEFAULT_PREFIX}-tc ssh -F /run/tower-lab-${DEFAULT_PREFIX}/home/.ssh/config on1 hostname
`;

class UsageError extends Error {}

/** The signal that interrupted `up`, so the exit code says so (128 + signal number). */
let interruptedBy: NodeJS.Signals | undefined;

function count(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} needs a non-negative integer, got '${value}'`);
  return n;
}

function oneHost(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`${command} needs exactly one HOST`);
  return positionals[0]!;
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

async function up(values: Record<string, string | boolean | undefined>, prefix: string): Promise<void> {
  const controller = new AbortController();
  // Interrupted while building: abort, and labUp removes what it built before rejecting.
  const onSignal = (sig: NodeJS.Signals): void => {
    interruptedBy = sig;
    process.stderr.write(`lab: ${sig} received, tearing down the half-built lab…\n`);
    controller.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const started = Date.now();
    const lab = await labUp({
      prefix,
      online: count(values.online as string | undefined, 'online', 1),
      offline: count(values.offline as string | undefined, 'offline', 1),
      router: !values['no-router'],
      home: (values.home as string | undefined) ?? join(stateDir(prefix), 'home'),
      user: values.user as string | undefined,
      signal: controller.signal,
      persistent: true,
    });
    print({ ...(await labStatus(lab)), elapsedMs: Date.now() - started });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      prefix: { type: 'string' },
      online: { type: 'string' },
      offline: { type: 'string' },
      'no-router': { type: 'boolean' },
      home: { type: 'string' },
      user: { type: 'string' },
      carrier: { type: 'boolean' },
      role: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const prefix = values.prefix ?? DEFAULT_PREFIX;
  switch (command) {
    case 'up':
      await up(values, prefix);
      return 0;
    case 'down':
      await labDownPrefix(prefix);
      return 0;
    case 'cut': {
      const mode: CutMode = values.carrier ? 'carrier' : 'unplug';
      await (await attachLab(prefix)).cut(oneHost(rest, 'cut'), mode);
      return 0;
    }
    case 'restore':
      await (await attachLab(prefix)).restore(oneHost(rest, 'restore'));
      return 0;
    case 'add': {
      const role = values.role ?? 'online';
      if (role !== 'online' && role !== 'offline') throw new UsageError(`--role must be online or offline, got '${role}'`);
      const lab = await attachLab(prefix);
      const host = await lab.addHost({ name: oneHost(rest, 'add'), role });
      print(host);
      return 0;
    }
    case 'status':
      print(await labStatus(await attachLab(prefix)));
      return 0;
    case undefined:
      throw new UsageError('missing command');
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

/** The error with its stack, plus what AggregateError and `cause` carry (cleanup failures, underlying errors). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  let text = err.stack ?? err.message;
  if (err instanceof AggregateError) text += err.errors.map((e) => `\n  - ${describe(e)}`).join('');
  else if (err.cause !== undefined) text += `\ncaused by: ${describe(err.cause)}`;
  return text;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`lab: ${err.message} (see --help)\n`);
      process.exit(2);
    }
    process.stderr.write(`lab: ${describe(err)}\n`);
    process.exit(interruptedBy ? 128 + osConstants.signals[interruptedBy] : 1);
  },
);
