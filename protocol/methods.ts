import { z } from 'zod';
import { HostInfo, HostName, IPv4, Role } from './host.js';
import { LogLevelName, LogRecord, RegistryStatus, Topic } from './events.js';

const NoParams = z.object({}).strict();

export const DaemonInfo = z.object({
  name: z.literal('towerd'),
  version: z.string(),
  protocolVersion: z.number().int(),
  pid: z.number().int(),
  startedAt: z.iso.datetime(),
  uptimeMs: z.number(),
  socket: z.string(),
  node: z.string(),
  paths: z.object({
    towerDir: z.string().describe('~/.local/tower'),
    registry: z.string().describe('the OpenSSH-format host list'),
    sshConfig: z.string(),
    knownHosts: z.string(),
    settings: z.string(),
  }),
});
export type DaemonInfo = z.infer<typeof DaemonInfo>;

export const Status = z.object({
  daemon: z.object({ version: z.string(), pid: z.number().int(), uptimeMs: z.number() }),
  registry: RegistryStatus,
  hosts: z.array(HostInfo),
  summary: z.object({
    total: z.number().int(),
    online: z.number().int(),
    down: z.number().int().describe('hosts in any state other than online and unsupervised'),
  }),
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
    params: z.object({ name: HostName }).strict(),
    result: HostInfo,
  },
  'host.add': {
    description:
      'Register a host: assigns its address, writes its ssh config block and tower.env, and generates an ed25519 key pair unless a private key file is given.',
    params: z
      .object({
        name: HostName,
        role: Role,
        ip: IPv4.optional().describe('default: the next free address of the role’s network'),
        user: z
          .string()
          .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a POSIX user name')
          .optional()
          .describe('default: the user towerd runs as'),
        keyFile: z.string().min(1).optional().describe('absolute path of an unencrypted OpenSSH ed25519 private key to copy'),
        color: z.number().int().optional().describe('ANSI colour code; default: the next in TowerOS order'),
      })
      .strict(),
    result: z.object({ host: HostInfo, publicKey: z.string(), generatedKey: z.boolean() }),
  },
  'host.remove': {
    description:
      'Unregister a host: removes its config block, its own known_hosts lines and (unless keepFiles) its folder.',
    params: z.object({ name: HostName, keepFiles: z.boolean().default(false) }).strict(),
    result: z.object({ name: HostName, knownHostsLinesRemoved: z.number().int(), filesRemoved: z.boolean() }),
  },
  'events.subscribe': {
    description: 'Receive `event` notifications for these topics on this connection (replaces earlier topics).',
    params: z.object({ topics: z.array(Topic).min(1) }).strict(),
    result: z.object({ topics: z.array(Topic) }),
  },
  'logs.tail': {
    description: 'The most recent log records kept in memory (already redacted).',
    params: z
      .object({
        lines: z.number().int().min(1).max(10_000).default(100),
        level: LogLevelName.default('info').describe('minimum level'),
      })
      .strict(),
    result: z.object({ records: z.array(LogRecord) }),
  },
} as const satisfies Record<string, { description: string; params: z.ZodType; result: z.ZodType }>;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
/** What a caller may send (defaults not yet applied). */
export type ParamsIn<M extends MethodName> = z.input<Methods[M]['params']>;
/** What a handler receives (defaults applied). */
export type Params<M extends MethodName> = z.output<Methods[M]['params']>;
export type Result<M extends MethodName> = z.output<Methods[M]['result']>;
