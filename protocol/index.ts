export * from './host.js';
export * from './events.js';
export * from './methods.js';
export * from './errors.js';
export * from './version.js';

/** Bumped on any incompatible change to methods or events. */
export const PROTOCOL_VERSION = 1;
/** A single JSON text (one line) may not exceed this many bytes, in either direction. */
export const MAX_FRAME_BYTES = 1024 * 1024;
