import * as z from 'zod/mini';
import { HostInfo, HostName, IPv4, Role } from './host.js';
import { LogLevelName, LogRecord, RegistryStatus, Topic } from './events.js';
import { ForwardInfo, OpenForwardParams } from './forwards.js';
import { provisionMethods } from './provision.js';
import { packageMethods } from './packages.js';
import { appMethods } from './apps.js';
import { updateMethods } from './updates.js';
import { clipboardMethods } from './clipboard.js';
import { setupMethods } from './setup.js';
import { auditMethods } from './audit.js';
import { menuMethods } from './menus.js';
import { ExportState, exportMethods } from './export.js';
import { clockMethods } from './clock.js';
import { filesMethods } from './files.js';
import { keysMethods } from './keys.js';
import { wlanMethods } from './wlan.js';
import { backupMethods } from './backup.js';
import { PtyRequest } from './pty.js';

const NoParams = z.strictObject({});
const describe = z.describe;

export const DaemonInfo = z.object({
  name: z.literal('towerd'),
  version: z.string(),
  protocolVersion: z.int(),
  pid: z.int(),
  startedAt: z.iso.datetime(),
  uptimeMs: z.number(),
  socket: z.string(),
  node: z.string(),
  paths: z.object({
    towerDir: z.string().check(describe('~/.local/tower')),
    registry: z.string().check(describe('the OpenSSH-format host list')),
    sshConfig: z.string(),
    knownHosts: z.string(),
    settings: z.string(),
  }),
});
export type DaemonInfo = z.infer<typeof DaemonInfo>;

export const Status = z.object({
  daemon: z.object({ version: z.string(), pid: z.int(), uptimeMs: z.number() }),
  registry: RegistryStatus,
  hosts: z.array(HostInfo),
  summary: z.object({
    total: z.int(),
    online: z.int(),
    down: z.int().check(describe('hosts in any state other than online, unsupervised and provisioning')),
  }),
  stateExport: z.optional(ExportState.check(describe('whether an export of the thin client’s own state holds the registry as it is now'))),
});
export type Status = z.infer<typeof Status>;

/**
 * The whole API. Every entry is the single definition of a method: the daemon validates params with it,
 * the client types its calls with it, and `npm run schema` publishes it as JSON Schema.
 */
export const methods = {
  'daemon.info': {
    description: 'Version, pid, socket and file paths of the running daemon.',
    params: NoParams,
    result: DaemonInfo,
  },
  'daemon.reload': {
    description: 'Re-read settings and the host registry from disk (as SIGHUP does).',
    params: NoParams,
    result: z.object({ registry: RegistryStatus }),
  },
  status: {
    description: 'Everything a status view needs: daemon, registry health and every host with its state.',
    params: NoParams,
    result: Status,
  },
  'host.list': {
    description: 'All hosts in registry order (router first, then by name).',
    params: NoParams,
    result: z.object({ hosts: z.array(HostInfo) }),
  },
  'host.get': {
    description: 'One host.',
    params: z.strictObject({ name: HostName }),
    result: HostInfo,
  },
  'host.add': {
    description:
      'Register a host: assigns its address, writes its ssh config block and tower.env, and generates an ed25519 key pair unless a private key file is given.',
    params: z.strictObject({
      name: HostName,
      role: Role,
      ip: z.optional(IPv4.check(describe('default: the next free address of the role’s network'))),
      user: z.optional(
        z.string().check(z.regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a POSIX user name'), describe('default: the user towerd runs as')),
      ),
      keyFile: z.optional(
        z.string().check(z.minLength(1), describe('absolute path of an unencrypted OpenSSH ed25519 private key to copy')),
      ),
      color: z.optional(z.int().check(describe('ANSI colour code; default: the next in TowerOS order'))),
    }),
    result: z.object({ host: HostInfo, publicKey: z.string(), generatedKey: z.boolean() }),
  },
  'host.remove': {
    description: 'Unregister a host: removes its config block, its own known_hosts lines and (unless keepFiles) its folder.',
    params: z.strictObject({ name: HostName, keepFiles: z._default(z.boolean(), false) }),
    result: z.object({ name: HostName, knownHostsLinesRemoved: z.int(), filesRemoved: z.boolean() }),
  },
  'host.reconnect': {
    description:
      'Drop the host’s connection if any and connect again now, skipping the reconnect backoff (also after auth-failed or hostkey-mismatch).',
    params: z.strictObject({ name: HostName }),
    result: HostInfo,
  },
  'forward.open': {
    description:
      'Open a forward that lives as long as towerd (or until forward.close) and comes back after every reconnect. ' +
      'local: towerd listens on the thin client (loopback TCP or a Unix socket) and each connection is opened from the host to `connect`. ' +
      'remote: the host listens (loopback TCP or a Unix socket) and each connection is brought to `connect` on the thin client (loopback TCP or a Unix socket).',
    params: OpenForwardParams,
    result: ForwardInfo,
  },
  'forward.list': {
    description: 'Forwards, all or those of one host.',
    params: z.strictObject({ host: z.optional(HostName) }),
    result: z.object({ forwards: z.array(ForwardInfo) }),
  },
  'forward.close': {
    description: 'Close a forward: its listener and every connection through it.',
    params: z.strictObject({ id: z.string().check(z.minLength(1), z.maxLength(64)) }),
    result: z.object({ id: z.string() }),
  },
  'daemon.stats': {
    description: 'Resource counts of the daemon, for monitoring and leak checks.',
    params: NoParams,
    result: z.object({
      pid: z.int(),
      openFds: z.int(),
      rssBytes: z.number(),
      heapUsedBytes: z.number(),
      rpcConnections: z.int(),
      subscribers: z.int(),
      hosts: z.int(),
      sshConnected: z.int(),
      sshSockets: z.int(),
      channels: z.int().check(z.describe('open SSH channels (forwarded connections, commands)')),
      listeners: z.int().check(z.describe('forward listeners on the thin client and bound on hosts')),
      forwards: z.int(),
    }),
  },
  'exec.run': {
    description:
      'Run a command on a host. argv is run exactly (each argument quoted for the remote shell); an empty argv opens the login shell. ' +
      'After the result, this connection carries the command’s stdin/stdout/stderr as binary frames (protocol/stream.ts) until the exit frame; ' +
      'send nothing else on it after the request.',
    params: z.strictObject({
      host: HostName,
      argv: z.array(z.string().check(z.maxLength(65_536))).check(z.maxLength(4096)),
      pty: z.optional(PtyRequest),
    }),
    result: z.object({ id: z.string() }),
  },
  'host.poweroff': {
    description: 'Power hosts off (TowerOS: `sudo poweroff` over SSH). Hosts that are not connected are reported, not waited for.',
    params: z.strictObject({ names: z.array(HostName).check(z.minLength(1)) }),
    result: z.object({
      results: z.array(z.object({ name: HostName, ok: z.boolean(), message: z.string() })),
    }),
  },
  'events.subscribe': {
    description: 'Receive `event` notifications for these topics on this connection (replaces earlier topics).',
    params: z.strictObject({ topics: z.array(Topic).check(z.minLength(1)) }),
    result: z.object({ topics: z.array(Topic) }),
  },
  'logs.tail': {
    description: 'The most recent log records kept in memory (already redacted); fewer than asked when more would not fit one frame.',
    params: z.strictObject({
      lines: z._default(z.int().check(z.gte(1), z.lte(10_000)), 100),
      level: z._default(LogLevelName, 'info').check(describe('minimum level')),
    }),
    result: z.object({ records: z.array(LogRecord) }),
  },
  ...provisionMethods,
  ...packageMethods,
  ...appMethods,
  ...updateMethods,
  ...clipboardMethods,
  ...setupMethods,
  ...auditMethods,
  ...menuMethods,
  ...exportMethods,
  ...clockMethods,
  ...filesMethods,
  ...keysMethods,
  ...wlanMethods,
  ...backupMethods,
} as const satisfies Record<string, { description: string; params: z.ZodMiniType; result: z.ZodMiniType }>;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
/** What a caller may send (defaults not yet applied). */
export type ParamsIn<M extends MethodName> = z.input<Methods[M]['params']>;
/** What a handler receives (defaults applied). */
export type Params<M extends MethodName> = z.output<Methods[M]['params']>;
export type Result<M extends MethodName> = z.output<Methods[M]['result']>;
