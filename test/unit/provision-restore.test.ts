import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WorldRestore } from '../../protocol/index.js';
import { REINSTALL_MARKER, Reinstalls } from '../../daemon/features/provision/reinstall.js';
import { LogRing, createLogger } from '../../daemon/core/log.js';
import { DEFAULT_SETTINGS } from '../../daemon/core/settings.js';
import type { HostSession } from '../../daemon/core/ssh/session.js';
import { resolvePaths } from '../../daemon/shared/paths.js';

/** A connected host that answers only the boot id command (Linux's boot_id, as reprovision.bootIdCommand is by default). */
function fakeSession(bootId: () => string): HostSession {
  return {
    host: { name: 'keep', role: 'offline' },
    withSessionSlot: <T>(fn: () => Promise<T>) => fn(),
    trackChannel: () => undefined,
    connection: {
      exec(cmd: string, _opts: unknown, cb: (err: Error | undefined, ch: unknown) => void) {
        const ch = Object.assign(new EventEmitter(), { stderr: new EventEmitter(), close: () => undefined });
        Object.assign(ch, {
          end: () =>
            setImmediate(() => {
              if (cmd.includes('boot_id')) ch.emit('data', Buffer.from(`${bootId()}\n`));
              ch.emit('exit', cmd.includes('boot_id') ? 0 : 127);
              ch.emit('close');
            }),
        });
        cb(undefined, ch);
      },
    },
  } as unknown as HostSession;
}

const WORLD: WorldRestore = { host: 'keep', source: 'saved', wanted: ['hello'], missing: ['hello'], present: [], extra: [], relayed: true, code: 0, error: null };

describe('restoring a reinstalled host’s world on its first connection on the new system', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  function setup(opts: { boot: string; marker: object | string; world?: boolean; restore: () => Promise<WorldRestore> }) {
    const home = mkdtempSync(join(tmpdir(), 'tower-restore-'));
    dirs.push(home);
    const paths = resolvePaths({ HOME: home });
    const dir = join(paths.hostsDir, 'keep');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, REINSTALL_MARKER), typeof opts.marker === 'string' ? opts.marker : JSON.stringify(opts.marker));
    if (opts.world !== false) writeFileSync(join(dir, 'world'), 'hello\n');
    const state = { boot: opts.boot, online: true };
    const restoreWorld = vi.fn(opts.restore);
    const changed: string[] = [];
    const ring = new LogRing();
    const r = new Reinstalls({
      paths,
      log: createLogger('info', ring, { write: () => true } as unknown as NodeJS.WritableStream),
      settings: () => DEFAULT_SETTINGS,
      packages: { restoreWorld },
      connected: (name) => {
        if (!state.online && name === 'keep') throw new Error('keep is offline');
        return fakeSession(() => state.boot);
      },
      hostChanged: (name) => changed.push(name),
    });
    return { r, restoreWorld, state, changed, marker: () => existsSync(join(dir, REINSTALL_MARKER)), logs: () => ring.tail(100, 'info').map((x) => x.msg).join('\n') };
  }
  const since = new Date().toISOString();

  it('the old system (same boot id) does not count; the next boot restores, and the marker goes', async () => {
    const t = setup({ boot: 'boot-1', marker: { since, target: '/tmp/x.img', bootId: 'boot-1' }, restore: () => Promise.resolve(WORLD) });
    await t.r.load('keep');
    expect(t.r.info('keep')).toEqual({ state: 'waiting', since, target: '/tmp/x.img', world: null, error: null });
    t.r.connectionChanged('keep', true);
    // the boot id is read, and nothing else happens
    await vi.waitFor(() => expect(t.logs()).toMatch(/connected to the system that was running when the new media were written/));
    expect(t.restoreWorld).not.toHaveBeenCalled();
    expect(t.r.info('keep')?.state).toBe('waiting');
    expect(t.marker()).toBe(true);
    t.state.boot = 'boot-2';
    t.r.connectionChanged('keep', true);
    await vi.waitFor(() => expect(t.r.info('keep')?.state).toBe('done'));
    expect(t.restoreWorld).toHaveBeenCalledTimes(1);
    expect(t.r.info('keep')?.world).toEqual(WORLD);
    expect(t.marker()).toBe(false);
    // done is done: later connections change nothing
    t.r.connectionChanged('keep', true);
    await new Promise((r) => setTimeout(r, 20));
    expect(t.restoreWorld).toHaveBeenCalledTimes(1);
  });

  it('apk failing: failed with its reason, tried again on connections and when the router is back, given up after three runs', async () => {
    const t = setup({ boot: 'b', marker: { since, target: '/tmp/x.img', bootId: null }, restore: () => Promise.resolve({ ...WORLD, code: 1, error: 'apk add on keep: apk exited with 1: network error' }) });
    await t.r.load('keep');
    t.r.connectionChanged('keep', true);
    await vi.waitFor(() => expect(t.restoreWorld).toHaveBeenCalledTimes(1));
    await vi.waitFor(() => expect(t.r.info('keep')?.state).toBe('failed'));
    expect(t.r.info('keep')?.error).toMatch(/network error; tried again on the next connection or when the router is back/);
    expect(t.marker()).toBe(true);
    t.r.connectionChanged('router', true);
    await vi.waitFor(() => expect(t.restoreWorld).toHaveBeenCalledTimes(2));
    t.r.connectionChanged('keep', true);
    await vi.waitFor(() => expect(t.restoreWorld).toHaveBeenCalledTimes(3));
    await vi.waitFor(() => expect(t.r.info('keep')?.error).toMatch(/given up after 3 tries: towerctl install keep --world tries again/));
    expect(t.marker()).toBe(false);
    t.r.connectionChanged('keep', true);
    t.r.connectionChanged('router', true);
    await new Promise((r) => setTimeout(r, 20));
    expect(t.restoreWorld).toHaveBeenCalledTimes(3);
  });

  it('a failure before apk ran keeps it waiting with the reason; no saved world is done at once; a bad marker is ignored', async () => {
    let fail = true;
    const t = setup({ boot: 'b', marker: { since, target: '/tmp/x.img', bootId: null }, restore: () => (fail ? Promise.reject(new Error('cannot relay packages for keep: router is offline')) : Promise.resolve(WORLD)) });
    await t.r.load('keep');
    t.r.connectionChanged('keep', true);
    await vi.waitFor(() => expect(t.r.info('keep')?.error).toMatch(/router is offline; tried again on the next connection/));
    expect(t.r.info('keep')?.state).toBe('waiting');
    expect(t.marker()).toBe(true);
    fail = false;
    t.r.connectionChanged('router', true);
    await vi.waitFor(() => expect(t.r.info('keep')?.state).toBe('done'));

    const none = setup({ boot: 'b', marker: { since, target: '/tmp/x.img', bootId: null }, world: false, restore: () => Promise.resolve(WORLD) });
    await none.r.load('keep');
    none.r.connectionChanged('keep', true);
    await vi.waitFor(() => expect(none.r.info('keep')?.state).toBe('done'));
    expect(none.restoreWorld).not.toHaveBeenCalled();
    expect(none.r.info('keep')?.world).toBeNull();

    for (const bad of ['{"since":"yesterday","target":"x","bootId":null}', 'not json', JSON.stringify({ since, target: 'x', bootId: 'a b' })]) {
      const b = setup({ boot: 'b', marker: bad, restore: () => Promise.resolve(WORLD) });
      await b.r.load('keep');
      expect(b.r.info('keep')).toBeUndefined();
    }
  });
});
