import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { renderRecord } from '../../client/commands/logs.js';
import { renderRelayTrail } from '../../client/commands/packages.js';
import { renderStatus } from '../../client/commands/status.js';
import { renderList, renderResults } from '../../client/commands/updates.js';
import { escapeControls, json } from '../../client/render.js';
import { run } from '../../client/towerctl.js';
import type { Status } from '../../protocol/index.js';

/** OSC 52: "set the clipboard to this base64", ended by BEL. A terminal that honours it obeys whoever prints it. */
const OSC52 = '\x1b]52;c;cm0gLXJmIH4K\x07';
const OSC52_SHOWN = '\\x1b]52;c;cm0gLXJmIH4K\\x07';
/** any byte a terminal would act on, but the line break */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

describe('escapeControls', () => {
  it('writes C0, DEL and C1 as \\xNN and leaves printable text alone', () => {
    expect(escapeControls(OSC52)).toBe(OSC52_SHOWN);
    expect(escapeControls('a\x00b\tc\rd\x7fe\x9b31mf\x85g')).toBe('a\\x00b\\x09c\\x0dd\\x7fe\\x9b31mf\\x85g');
    expect(escapeControls('dl-cdn.alpinelinux.org → ünïcode ✓ \\x1b')).toBe('dl-cdn.alpinelinux.org → ünïcode ✓ \\x1b');
  });

  it('keeps line breaks only when asked to', () => {
    expect(escapeControls('one\ntwo')).toBe('one\\x0atwo');
    expect(escapeControls('one\ntwo\r\x1b[2K', true)).toBe('one\ntwo\\x0d\\x1b[2K');
  });

  it('JSON output escapes DEL and C1 as well, and parses back to the same value', () => {
    const v = { target: `http://x/${OSC52}\x9b\x7f` };
    const text = json(v);
    expect(text).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(text)).toEqual(v);
  });
});

describe('renderings of host-controlled text', () => {
  it('towerctl relay: a request target with OSC 52 is shown, not obeyed', () => {
    const out = renderRelayTrail([
      {
        name: 'office',
        fetches: 0,
        bytes: 0,
        sent: 0,
        refusals: 1,
        failures: 0,
        recent: [{ time: 0, host: 'office', kind: 'refused', method: 'GET', target: `http://evil/${OSC52}`, bytes: 0, sent: 0, reason: `not allowed: evil${OSC52}` }],
      },
    ]);
    expect(out).not.toMatch(RAW_CONTROL);
    expect(out).toContain(`GET http://evil/${OSC52_SHOWN}`);
    expect(out).toContain(`not allowed: evil${OSC52_SHOWN}`);
  });

  it('towerctl logs: a record is one line, whatever its message and fields hold', () => {
    const out = renderRecord({ time: 0, level: 'warn', msg: `apk said ${OSC52}`, host: 'office', fields: { stderr: `line1\n${OSC52}`, code: 1 } }, false);
    expect(out).not.toMatch(RAW_CONTROL);
    expect(out.split('\n')).toHaveLength(2);
    expect(out).toBe(`1970-01-01 00:00:00.000 WARN  [office] apk said ${OSC52_SHOWN} stderr=line1\\x0a${OSC52_SHOWN} code=1\n`);
  });

  it('status LAST ERROR and update reasons', () => {
    const status = {
      hosts: [{ name: 'office', role: 'offline', ip: '192.168.3.200', state: 'offline', rttMs: null, lastContact: null, color: { code: 31, name: 'Red', hex: '#cd0000' }, lastError: `xclip: ${OSC52}` }],
      summary: { total: 1, online: 0, down: 1 },
      daemon: { version: '0.1.0', pid: 1, uptimeMs: 0 },
      registry: { ok: true, error: null },
    } as unknown as Status;
    vi.stubEnv('NO_COLOR', '1');
    try {
      const s = renderStatus(status);
      expect(s).not.toMatch(RAW_CONTROL);
      expect(s).toContain(`xclip: ${OSC52_SHOWN}`);
    } finally {
      vi.unstubAllEnvs();
    }
    const results = renderResults([{ name: 'office', result: 'failed', reason: `apk upgrade: apk exited with 1: ${OSC52}`, pending: null, upgraded: [], unreachable: false }]);
    expect(results).not.toMatch(RAW_CONTROL);
    expect(results).toContain(OSC52_SHOWN);
    const list = renderList({
      enabled: true,
      maxConcurrent: 2,
      hosts: [
        {
          name: 'office',
          enabled: true,
          window: null,
          intervalHours: 24,
          pending: 1,
          pendingPackages: [{ name: 'musl', from: `1${OSC52}`, to: '2' }],
          running: null,
          waiting: null,
          nextDue: null,
          last: { kind: 'run', result: 'failed', at: new Date(0).toISOString(), upgraded: [], reason: `refreshing the index: ${OSC52}` },
        },
      ],
    } as unknown as Parameters<typeof renderList>[0]);
    expect(list).not.toMatch(RAW_CONTROL);
    expect(list.match(/\\x1b\]52/g)).toHaveLength(2);
  });
});

describe("towerctl's main error path", () => {
  let dir: string;
  let server: Server;
  let socket: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'towerctl-esc-'));
    socket = join(dir, 'towerd.sock');
    // a towerd that refuses everything with a message carrying a host's stderr, as a failed apk run would
    server = createServer((c) => {
      let buf = '';
      c.on('data', (d) => {
        buf += d.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const req = JSON.parse(buf.slice(0, nl)) as { id: number };
          buf = buf.slice(nl + 1);
          c.write(JSON.stringify({ jsonrpc: '2.0', id: req.id, error: { code: -32009, message: `office: apk exited with 1:\n${OSC52}ERROR` } }) + '\n');
        }
      });
    });
    await new Promise<void>((r) => server.listen(socket, r));
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => vi.restoreAllMocks());

  it('escapes what towerd says before printing it', async () => {
    const err: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    const code = await run(['node', 'towerctl', '--socket', socket, 'status']);
    vi.restoreAllMocks();
    expect(code).toBe(4);
    expect(err.join('')).toBe(`towerctl: office: apk exited with 1:\n${OSC52_SHOWN}ERROR\n`);
  });
});
