import { describe, expect, it } from 'vitest';
import { FrameDecoder, decodeUtf8, nestedDeeperThan } from '../../daemon/core/rpc/frames.js';

describe('frame decoder', () => {
  it('splits lines across chunks', () => {
    const d = new FrameDecoder(100);
    expect(d.push(Buffer.from('{"a"'))).toEqual([]);
    const frames = d.push(Buffer.from(':1}\n{"b":2}\n{"c"')) as Buffer[];
    expect(frames.map(String)).toEqual(['{"a":1}', '{"b":2}']);
    expect((d.push(Buffer.from(':3}\n')) as Buffer[]).map(String)).toEqual(['{"c":3}']);
  });

  it('reports overflow as soon as a frame passes the cap, with or without newline', () => {
    expect(new FrameDecoder(10).push(Buffer.from('x'.repeat(11)))).toBe('overflow');
    const d = new FrameDecoder(10);
    expect(d.push(Buffer.from('x'.repeat(6)))).toEqual([]);
    expect(d.push(Buffer.from('x'.repeat(5) + '\n'))).toBe('overflow');
    expect((new FrameDecoder(10).push(Buffer.from('x'.repeat(10) + '\n')) as Buffer[])[0]!.length).toBe(10);
  });

  it('decodes strict UTF-8 only', () => {
    expect(decodeUtf8(Buffer.from('héllo'))).toBe('héllo');
    expect(decodeUtf8(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]))).toBeNull();
    expect(decodeUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toBeNull(); // a lone surrogate
  });

  it('measures nesting from the bytes, ignoring brackets inside strings', () => {
    const deep = (n: number) => Buffer.from('['.repeat(n) + ']'.repeat(n));
    expect(nestedDeeperThan(deep(64), 64)).toBe(false);
    expect(nestedDeeperThan(deep(65), 64)).toBe(true);
    expect(nestedDeeperThan(Buffer.from('{"a":{"b":[1,{"c":2}]}}'), 4)).toBe(false);
    expect(nestedDeeperThan(Buffer.from('{"a":{"b":[1,{"c":2}]}}'), 3)).toBe(true);
    // brackets in strings, escaped quotes and backslashes do not count
    expect(nestedDeeperThan(Buffer.from(JSON.stringify({ s: '[[[[{{{{"\\', t: ['x'] })), 2)).toBe(false);
    expect(nestedDeeperThan(Buffer.from(JSON.stringify(['\\', '"[[[', [['deep']]])), 2)).toBe(true);
  });
});
