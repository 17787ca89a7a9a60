import { describe, expect, it } from 'vitest';
import { allocateIp, checkRequestedIp, NetworkFullError } from '../../daemon/core/registry/addressing.js';
import { DEFAULT_SETTINGS, Settings } from '../../daemon/core/settings.js';

describe('static addressing', () => {
  const s = DEFAULT_SETTINGS;

  it('gives the router .1 and other hosts the lowest free address from .200, without gaps', () => {
    expect(allocateIp(s, 'router', new Set())).toBe('192.168.2.1');
    expect(allocateIp(s, 'online', new Set())).toBe('192.168.2.200');
    expect(allocateIp(s, 'offline', new Set(['192.168.2.200']))).toBe('192.168.3.200');
    expect(allocateIp(s, 'online', new Set(['192.168.2.200', '192.168.2.202']))).toBe('192.168.2.201');
  });

  it('reports exhaustion after .254 clearly', () => {
    const used = new Set(Array.from({ length: 55 }, (_, i) => `192.168.3.${200 + i}`));
    expect(() => allocateIp(s, 'offline', used)).toThrowError(NetworkFullError);
    expect(() => allocateIp(s, 'offline', used)).toThrowError(/192\.168\.3\.0\/24 is full: all 55 host addresses/);
    expect(allocateIp(s, 'online', used)).toBe('192.168.2.200');
  });

  it('uses the networks of the settings file', () => {
    const custom = Settings.parse({ networks: { online: '10.20.30.0/24', offline: '10.20.31.0/24' } });
    expect(allocateIp(custom, 'router', new Set())).toBe('10.20.30.1');
    expect(allocateIp(custom, 'offline', new Set())).toBe('10.20.31.200');
  });

  it('checks requested addresses', () => {
    expect(checkRequestedIp(s, 'online', '192.168.3.210', new Set())).toMatch(/not on the online network/);
    expect(checkRequestedIp(s, 'router', '192.168.2.5', new Set())).toMatch(/fixed at 192\.168\.2\.1/);
    expect(checkRequestedIp(s, 'online', '192.168.2.100', new Set())).toMatch(/\.200–\.254/);
    expect(checkRequestedIp(s, 'online', '192.168.2.210', new Set(['192.168.2.210']))).toMatch(/already used/);
    expect(checkRequestedIp(s, 'online', '192.168.2.210', new Set())).toBeNull();
  });

  it('rejects bad settings', () => {
    expect(Settings.safeParse({ networks: { online: '192.168.2.0/16' } }).success).toBe(false);
    expect(Settings.safeParse({ firstHostOctet: 250, lastHostOctet: 240 }).success).toBe(false);
    expect(Settings.safeParse({ typo: 1 }).success).toBe(false);
    expect(Settings.safeParse({ networks: { online: '192.168.5.0/24', offline: '192.168.5.0/24' } }).success).toBe(false);
  });
});
