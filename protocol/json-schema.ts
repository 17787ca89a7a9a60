import * as z from 'zod/mini';
import { Event } from './events.js';
import { methods } from './methods.js';
import { PROTOCOL_VERSION, MAX_BATCH_LENGTH, MAX_FRAME_BYTES } from './constants.js';
import { TOWER_VERSION } from './version.js';

/**
 * The protocol as one JSON Schema (draft 2020-12) document for clients in other languages: `$defs` holds each
 * method's params and result and the event union; `x-tower-methods` lists methods with their descriptions.
 */
export function protocolJsonSchema(): Record<string, unknown> {
  const defs: Record<string, unknown> = {};
  const list: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(methods)) {
    defs[`${name}.params`] = strip(z.toJSONSchema(spec.params, { io: 'input', unrepresentable: 'any' }));
    defs[`${name}.result`] = strip(z.toJSONSchema(spec.result, { io: 'output', unrepresentable: 'any' }));
    list[name] = {
      description: spec.description,
      params: { $ref: `#/$defs/${name}.params` },
      result: { $ref: `#/$defs/${name}.result` },
    };
  }
  defs.event = strip(z.toJSONSchema(Event, { io: 'output', unrepresentable: 'any' }));
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `urn:tower:protocol:${PROTOCOL_VERSION}`,
    title: 'Tower daemon protocol',
    description:
      'JSON-RPC 2.0 over the towerd Unix socket, one JSON text per line (UTF-8, at most ' +
      `${MAX_FRAME_BYTES} bytes, either way; batches of at most ${MAX_BATCH_LENGTH} requests). Events arrive as notifications {"jsonrpc":"2.0","method":"event","params":<event>} ` +
      'after events.subscribe. This schema validates an event notification\'s params; methods are under x-tower-methods.',
    'x-tower-version': TOWER_VERSION,
    'x-tower-protocol-version': PROTOCOL_VERSION,
    'x-tower-methods': list,
    $ref: '#/$defs/event',
    $defs: defs,
  };
}

function strip(s: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _drop, ...rest } = s;
  return rest;
}

export function protocolJsonSchemaText(): string {
  return JSON.stringify(protocolJsonSchema(), null, 2) + '\n';
}
