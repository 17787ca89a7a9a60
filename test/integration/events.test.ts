import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TowerClient } from '../../client/rpc.js';
import type { Event } from '../../protocol/index.js';
import { TOWERCTL, startDaemon, towerctl, type RunningDaemon } from '../helpers/towerd.js';

const running: RunningDaemon[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((d) => d.stop('SIGKILL')));
});

describe('events', () => {
  it('subscribers get host and registry events pushed, others nothing', async () => {
    const d = await startDaemon();
    running.push(d);
    const sub = await TowerClient.connect(d.socket, { validate: true });
    const quiet = await TowerClient.connect(d.socket, { validate: true });
    const got: Event[] = [];
    const none: Event[] = [];
    await sub.subscribe(['hosts', 'registry'], (e) => got.push(e));
    await quiet.subscribe(['daemon'], (e) => none.push(e));
    await towerctl(d, ['host', 'add', 'web', '--online']);
    await expect.poll(() => got.map((e) => e.type).filter((t) => t !== 'host.state')).toEqual(['host.added', 'registry.changed']);
    expect(got[0]).toMatchObject({ type: 'host.added', host: { name: 'web', ip: '192.168.2.200', state: 'unsupervised' } });
    // a hand edit arrives the same way
    appendFileSync(join(d.home, '.local/tower/config'), '\nHost Broken\n  HostName 192.168.2.9\n');
    // host.state events for web may interleave (its features look at it in the background): pick the registry ones
    await expect.poll(() => got.filter((e) => e.type === 'registry.changed').length, { timeout: 5000 }).toBe(2);
    expect(got.filter((e) => e.type === 'registry.changed')[1]).toMatchObject({ type: 'registry.changed', registry: { ok: false } });
    expect(got.every((e) => e.type.startsWith('host.') || e.type === 'registry.changed')).toBe(true);
    expect(none).toEqual([]);
    await d.stop();
    // the daemon says it is going before it goes
    expect(none.map((e) => e.type)).toEqual(['daemon.stopping']);
    sub.close();
    quiet.close();
  });

  it('`towerctl logs -f` and `towerctl watch --json` follow live', async () => {
    const d = await startDaemon();
    running.push(d);
    const env = { ...d.env, NO_COLOR: '1' };
    const logs = spawn(process.execPath, [TOWERCTL, 'logs', '-f', '-n', '5'], { env });
    const watch = spawn(process.execPath, [TOWERCTL, 'watch', '--json'], { env });
    let logOut = '';
    let watchOut = '';
    logs.stdout.setEncoding('utf8').on('data', (s: string) => (logOut += s));
    watch.stdout.setEncoding('utf8').on('data', (s: string) => (watchOut += s));
    await expect.poll(() => logOut).toMatch(/INFO {2}towerd started/);
    await new Promise((r) => setTimeout(r, 300)); // both have subscribed by now
    await towerctl(d, ['host', 'add', 'mail', '--offline']);
    await expect.poll(() => logOut).toMatch(/INFO {2}\[mail\] host added role=offline ip=192\.168\.3\.200/);
    await expect.poll(() => watchOut.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(2);
    const events = watchOut.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Event);
    expect(events[0]).toMatchObject({ type: 'host.added', host: { name: 'mail' } });
    // when towerd stops, followers end with exit 0 instead of hanging
    await d.stop();
    const codes = await Promise.all([logs, watch].map((p) => new Promise((r) => (p.exitCode !== null ? r(p.exitCode) : p.once('exit', r)))));
    expect(codes).toEqual([0, 0]);
  });
});
