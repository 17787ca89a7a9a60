import { describe, expect, it } from 'vitest';
import type { DoctorCheck } from '../../protocol/index.js';
import { doctorExit, renderDoctor } from '../../client/commands/doctor.js';
import { parseDf } from '../../daemon/features/setup/doctor.js';
import { HOST_NEEDS, answeredAll, missingPackages, parseTools } from '../../daemon/features/setup/needs.js';

const answer = (missing: string[]) => HOST_NEEDS.map((n) => `${n.tool} ${missing.includes(n.tool) ? 'no' : 'yes'}`).join('\n') + '\n';

describe('host setup: what a host has', () => {
  it('lists the packages of what is missing, each once, in list order', () => {
    const tools = parseTools(answer(['xrandr', 'Xvnc', 'openbox']));
    expect(tools.filter((t) => !t.present).map((t) => t.tool)).toEqual(['Xvnc', 'openbox', 'xrandr']);
    expect(missingPackages(tools)).toEqual(['tigervnc', 'openbox', 'xrandr']);
    expect(missingPackages(parseTools(answer(['flock', 'od'])))).toEqual(['busybox']);
    expect(missingPackages(parseTools(answer([])))).toEqual([]);
  });

  it('takes from the host only answers to what was asked: unknown names, odd lines and silence do not count', () => {
    const out = 'Xvnc yes\nXvnc no\nevil yes\n$(reboot) yes\nxauth   yes\n';
    const tools = parseTools(out);
    expect(tools.find((t) => t.tool === 'Xvnc')!.present).toBe(true);
    // not answered (or answered in another shape): missing
    expect(tools.find((t) => t.tool === 'xauth')!.present).toBe(false);
    expect(tools.map((t) => t.tool)).toEqual(HOST_NEEDS.map((n) => n.tool));
    expect(answeredAll(out)).toBe(false);
    expect(answeredAll(answer(['Xvnc']))).toBe(true);
  });
});

describe('doctor', () => {
  it('reads busybox and GNU df -P, skipping what does not parse', () => {
    const busybox = 'Filesystem           1024-blocks    Used Available Capacity Mounted on\n/dev/mmcblk0p2         7342472 1747488   5201548  25% /\ntmpfs                   496020       4    496016   0% /tmp\n';
    expect([...parseDf(busybox)]).toEqual([
      ['/', { availKiB: 5201548, usedPct: 25 }],
      ['/tmp', { availKiB: 496016, usedPct: 0 }],
    ]);
    expect(parseDf('Filesystem 1024-blocks Used Available Capacity Mounted on\nx 1 1 -5 9% /\ny 1 1 12 900000% /tmp\n').size).toBe(0);
  });

  const c = (status: DoctorCheck['status'], detail = ''): DoctorCheck => ({ scope: 'on1', check: 'x', status, detail, fix: '' });

  it('exits 0 when all is ok, 1 on a warning, 4 on a failure', () => {
    expect(doctorExit([c('ok'), c('ok')])).toBe(0);
    expect(doctorExit([c('ok'), c('warn')])).toBe(1);
    expect(doctorExit([c('warn'), c('fail'), c('ok')])).toBe(4);
  });

  it('shows no control byte a host sent', () => {
    const out = renderDoctor([c('fail', 'WARNING: \x1b]52;c;aGk=\x07 x')]);
    expect(out.includes('\x1b') || out.includes('\x07')).toBe(false);
    expect(out).toContain('\\x1b]52;c;aGk=\\x07');
    expect(out).toMatch(/0 ok, 0 warn, 1 fail\n$/);
  });
});
