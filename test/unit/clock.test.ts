import { describe, expect, it } from 'vitest';
import { clockPolicy, dateSetArgv, needsSetting, parseSource, setSchedule, type ClockSettings } from '../../daemon/features/clock/policy.js';
import { Settings } from '../../daemon/core/settings.js';

const cfg = (hosts: ClockSettings['hosts'] = {}): ClockSettings => ({ everyMs: 300_000, maxOffsetMs: 1000, hosts });

describe('clock policy: which hosts get their clock set', () => {
  it('sets an offline host without a time service, and only that by default', () => {
    expect(clockPolicy(cfg(), 'vault', 'offline', 'none').policy).toBe('set');
    expect(clockPolicy(cfg(), 'web', 'online', 'none').policy).toBe('leave');
    expect(clockPolicy(cfg(), 'router', 'router', 'none').policy).toBe('leave');
  });
  it('never moves a clock a time service keeps, nor one whose service is not known yet', () => {
    expect(clockPolicy(cfg(), 'vault', 'offline', 'chronyd')).toEqual({ policy: 'leave', reason: 'chronyd keeps its clock' });
    expect(clockPolicy(cfg(), 'vault', 'offline', 'ntpd').policy).toBe('leave');
    expect(clockPolicy(cfg(), 'vault', 'offline', null).policy).toBe('leave');
    expect(clockPolicy(cfg(), 'web', 'online', 'chronyd').policy).toBe('leave');
  });
  it('clock.hosts.NAME.set decides when given', () => {
    expect(clockPolicy(cfg({ web: { set: true } }), 'web', 'online', 'chronyd').policy).toBe('set');
    expect(clockPolicy(cfg({ vault: { set: false } }), 'vault', 'offline', 'none')).toEqual({ policy: 'leave', reason: 'clock.hosts.vault.set is false' });
    expect(clockPolicy(cfg({ vault: {} }), 'vault', 'offline', 'none').policy).toBe('set');
    expect(clockPolicy(cfg({ other: { set: true } }), 'web', 'online', 'none').policy).toBe('leave');
  });
  it('sets only when the offset is surely beyond maxOffsetMs', () => {
    expect(needsSetting(cfg(), { offsetMs: 30_000, boundMs: 1 })).toBe(true);
    expect(needsSetting(cfg(), { offsetMs: -30_000, boundMs: 1 })).toBe(true);
    expect(needsSetting(cfg(), { offsetMs: 1000, boundMs: 0 })).toBe(false);
    expect(needsSetting(cfg(), { offsetMs: 1001, boundMs: 0 })).toBe(true);
    // whole-second bounds (busybox date +%s) of ±500 ms around 1.4 s: it may be 0.9 s
    expect(needsSetting(cfg(), { offsetMs: 1400, boundMs: 500 })).toBe(false);
    expect(needsSetting({ maxOffsetMs: 100 }, { offsetMs: -150, boundMs: 10 })).toBe(true);
  });
});

describe('date -s argument', () => {
  it('is busybox date -u -s @SECONDS after the privilege command', () => {
    expect(dateSetArgv(['sudo'], 1_796_355_836)).toEqual(['sudo', 'date', '-u', '-s', '@1796355836']);
    expect(dateSetArgv(['doas', '-n'], 0)).toEqual(['doas', '-n', 'date', '-u', '-s', '@0']);
    expect(dateSetArgv([], 5)).toEqual(['date', '-u', '-s', '@5']);
  });
  it('refuses anything but whole non-negative seconds', () => {
    expect(() => dateSetArgv(['sudo'], 1.5)).toThrow(/not a time/);
    expect(() => dateSetArgv(['sudo'], -1)).toThrow(/not a time/);
    expect(() => dateSetArgv(['sudo'], Number.NaN)).toThrow(/not a time/);
  });
  it('is sent half a round trip before the thin client reaches the second it names', () => {
    const s = setSchedule(1_000_000_123.4, 20);
    expect(s.epochSeconds).toBe(1_000_001);
    expect(s.sendAtMs).toBe(1_000_000_980);
    expect(s.sendAtMs + 20).toBe(s.epochSeconds * 1000);
    // never in the past: at least the lead ahead
    const t = setSchedule(1_000_000_900, 20);
    expect(t.epochSeconds).toBe(1_000_002);
    expect(t.sendAtMs).toBeGreaterThanOrEqual(1_000_000_900 + 200 - 20);
  });
});

describe('time service probe and settings', () => {
  it('reads one word or nothing', () => {
    expect(parseSource('chronyd\n')).toBe('chronyd');
    expect(parseSource('none\n')).toBe('none');
    expect(parseSource('')).toBeNull();
    expect(parseSource('chronyd\nextra')).toBeNull();
    expect(parseSource('x'.repeat(100))).toBeNull();
  });
  it('has defaults and bounds', () => {
    const s = Settings.parse({});
    expect(s.clock).toEqual({ everyMs: 300_000, maxOffsetMs: 1000, hosts: {} });
    expect(Settings.parse({ clock: { hosts: { vault: { set: true } } } }).clock.hosts.vault).toEqual({ set: true });
    expect(Settings.safeParse({ clock: { everyMs: 10 } }).success).toBe(false);
    expect(Settings.safeParse({ clock: { maxOffsetMs: 0 } }).success).toBe(false);
    expect(Settings.safeParse({ clock: { hosts: { 'Bad Name': { set: true } } } }).success).toBe(false);
    expect(Settings.safeParse({ clock: { hosts: { vault: { set: true, other: 1 } } } }).success).toBe(false);
  });
});
