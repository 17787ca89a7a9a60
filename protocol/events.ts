import * as z from 'zod/mini';
import { HostInfo } from './host.js';
import { JobInfo } from './provision.js';
import { AppEvents } from './apps.js';
import { ClipboardEvents } from './clipboard.js';
import { AuditEvents } from './audit.js';
import { ExportEvents } from './export.js';
import { BackupEvents } from './backup.js';
import { HostUpdates } from './updates.js';
import { FilesEvents } from './files.js';
import { LOG_LEVELS, TOPICS } from './constants.js';

export const Topic = z.enum(TOPICS);
export type Topic = z.infer<typeof Topic>;

export const LogLevelName = z.enum(LOG_LEVELS);
export type LogLevelName = z.infer<typeof LogLevelName>;

/** One log record as towerd keeps it in memory: already redacted, never carries secrets. */
export const LogRecord = z.object({
  time: z.number().check(z.describe('milliseconds since the epoch')),
  level: LogLevelName,
  msg: z.string(),
  host: z.optional(z.string()),
  fields: z.record(z.string(), z.unknown()).check(z.describe('other structured fields of the record')),
});
export type LogRecord = z.infer<typeof LogRecord>;

export const RegistryStatus = z.object({
  ok: z.boolean().check(z.describe('false when the last edit on disk was invalid and the last good registry is in use')),
  error: z.nullable(z.string()),
  loadedAt: z.nullable(z.iso.datetime()),
  hostCount: z.int(),
});
export type RegistryStatus = z.infer<typeof RegistryStatus>;

/** Every event towerd pushes. Sent as JSON-RPC notifications with method `event` to subscribed clients. */
export const Event = z.discriminatedUnion('type', [
  z.object({ type: z.literal('host.state'), topic: z.literal('hosts'), host: HostInfo }),
  z.object({ type: z.literal('host.added'), topic: z.literal('hosts'), host: HostInfo }),
  z.object({ type: z.literal('host.removed'), topic: z.literal('hosts'), name: z.string() }),
  z.object({ type: z.literal('host.updates'), topic: z.literal('hosts'), host: HostInfo, updates: HostUpdates }),
  z.object({
    type: z.literal('registry.changed'),
    topic: z.literal('registry'),
    registry: RegistryStatus,
    hosts: z.array(HostInfo),
  }),
  z.object({ type: z.literal('log'), topic: z.literal('log'), record: LogRecord }),
  z.object({ type: z.literal('daemon.stopping'), topic: z.literal('daemon'), reason: z.string() }),
  z.object({ type: z.literal('job.progress'), topic: z.literal('jobs'), job: JobInfo }),
  ...AppEvents,
  ...ClipboardEvents,
  ...AuditEvents,
  ...ExportEvents,
  ...FilesEvents,
  ...BackupEvents,
]);
export type Event = z.infer<typeof Event>;
export type EventType = Event['type'];

