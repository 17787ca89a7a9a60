import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Ticker, tickerFor } from '../../daemon/core/ssh/ticker.js';

describe('keepalive ticker', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs every job in the same tick, one timer for all', () => {
    const t = new Ticker(1000);
    const calls: string[] = [];
    t.add(() => calls.push('a'));
    t.add(() => calls.push('b'));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(999);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual(['a', 'b']);
    vi.advanceTimersByTime(1000);
    expect(calls).toEqual(['a', 'b', 'a', 'b']);
  });

  it('stops its timer when the last job leaves, and starts it again for a new one', () => {
    const t = new Ticker(500);
    let n = 0;
    const stopA = t.add(() => n++);
    const stopB = t.add(() => n++);
    stopA();
    vi.advanceTimersByTime(500);
    expect(n).toBe(1);
    stopB();
    expect(t.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(n).toBe(1);
    t.add(() => n++);
    vi.advanceTimersByTime(500);
    expect(n).toBe(2);
  });

  it('a job removed during a tick does not run later in that tick', () => {
    const t = new Ticker(100);
    const ran: string[] = [];
    let stopB = () => {};
    t.add(() => {
      ran.push('a');
      stopB();
    });
    stopB = t.add(() => ran.push('b'));
    vi.advanceTimersByTime(100);
    expect(ran).toEqual(['a']);
  });

  it('one shared ticker per interval', () => {
    expect(tickerFor(1000)).toBe(tickerFor(1000));
    expect(tickerFor(1000)).not.toBe(tickerFor(2000));
  });
});
