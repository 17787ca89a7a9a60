export * from './host.js';
export * from './events.js';
export * from './methods.js';
export * from './forwards.js';
export * from './stream.js';
export * from './errors.js';
export * from './version.js';
export * from './constants.js';
