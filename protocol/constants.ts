// Plain values of the protocol, free of zod, so that towerctl can start without building any schema.

/** Bumped on any incompatible change to methods or events. */
export const PROTOCOL_VERSION = 1;
/** A single JSON text (one line) may not exceed this many bytes, in either direction. */
export const MAX_FRAME_BYTES = 1024 * 1024;
/**
 * A batch may hold at most this many requests; a longer one is refused whole (-32600) without running any of it.
 * Each element counts as one request in flight, so one frame cannot start more work than many single requests.
 */
export const MAX_BATCH_LENGTH = 64;
/** Arrays and objects in a frame may nest this deep; a deeper frame is refused (-32600) before it is parsed. */
export const MAX_JSON_DEPTH = 64;
/** A client that leaves more than this many bytes of replies and events unread is disconnected. */
export const MAX_QUEUED_BYTES = 16 * 1024 * 1024;
/** Method name of the notifications that carry events. */
export const EVENT_METHOD = 'event';
export const TOPICS = ['hosts', 'registry', 'log', 'daemon', 'jobs', 'apps', 'clipboard', 'export', 'files'] as const;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
/** The thin client as an end of a file transfer (a reserved host name, so no host can be called that). */
export const THIN_CLIENT_END = 'thinclient';
