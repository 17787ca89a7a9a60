import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HostName, TOWER_VERSION, methods, Event } from '../../protocol/index.js';
import { protocolJsonSchemaText } from '../../protocol/json-schema.js';

describe('protocol', () => {
  it('the committed JSON Schema is up to date (run `npm run schema` when this fails)', () => {
    const committed = readFileSync(new URL('../../protocol/tower-protocol.schema.json', import.meta.url), 'utf8');
    expect(committed).toBe(protocolJsonSchemaText());
  });

  it('the version constant matches package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(TOWER_VERSION).toBe(pkg.version);
  });

  it.each(['a', 'router', 'web-1', 'a23456789012345'])('accepts host name %j', (n) => {
    expect(HostName.safeParse(n).success).toBe(true);
  });

  it.each(['', 'A', '-a', 'a-', 'a_b', 'a.b', 'a234567890123456', 'thinclient', 'é', 'a b'])('refuses host name %j', (n) => {
    expect(HostName.safeParse(n).success).toBe(false);
  });

  it('every method has strict params: unknown keys are refused', () => {
    for (const [name, spec] of Object.entries(methods)) {
      expect(spec.params.safeParse({ surely_unknown_key: 1 }).success, name).toBe(false);
    }
  });

  it('events are a closed union', () => {
    expect(Event.safeParse({ type: 'daemon.stopping', topic: 'daemon', reason: 'x' }).success).toBe(true);
    expect(Event.safeParse({ type: 'nope', topic: 'daemon' }).success).toBe(false);
  });
});
