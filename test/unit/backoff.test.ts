import { describe, expect, it } from 'vitest';
import { Backoff } from '../../daemon/core/ssh/backoff.js';

const OPTS = { initialMs: 200, capMs: 1000, longCapMs: 5000, longAfterMs: 60_000, fastMs: 250, fastForMs: 30_000 };

function clocked(opts = OPTS) {
  let t = 1_000_000;
  const b = new Backoff(opts, () => 1, () => t);
  return { b, advance: (ms: number) => (t += ms) };
}

describe('Backoff', () => {
  it('doubles from initialMs up to capMs, and to longCapMs after longAfterMs away', () => {
    const { b, advance } = clocked();
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([200, 400, 800, 1000]);
    advance(60_001);
    expect([b.next(), b.next()]).toEqual([3200, 5000]);
  });

  it('overlaps connects for fastForMs after the first failure, then stops', () => {
    const { b, advance } = clocked();
    expect(b.fast()).toBe(true); // never failed yet: the first connects of a host are fast too
    b.next();
    advance(29_999);
    expect(b.fast()).toBe(true);
    advance(2);
    expect(b.fast()).toBe(false);
    b.reset();
    expect(b.fast()).toBe(true);
    expect(b.awayMs()).toBe(0);
  });

  it('fastMs 0 turns overlapping connects off', () => {
    const { b } = clocked({ ...OPTS, fastMs: 0 });
    expect(b.fast()).toBe(false);
  });
});
