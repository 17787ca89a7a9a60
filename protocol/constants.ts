// Plain values of the protocol, free of zod, so that towerctl can start without building any schema.

/** Bumped on any incompatible change to methods or events. */
export const PROTOCOL_VERSION = 1;
/** A single JSON text (one line) may not exceed this many bytes, in either direction. */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Method name of the notifications that carry events. */
export const EVENT_METHOD = 'event';
export const TOPICS = ['hosts', 'registry', 'log', 'daemon', 'jobs', 'apps', 'clipboard'] as const;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
