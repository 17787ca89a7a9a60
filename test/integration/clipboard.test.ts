// The clipboard for real: a headless sway in the thin-client namespace with real wl-copy/wl-paste, an Xvfb with
// real xclip on lab hosts, towerd in between; explicit and auto modes, off, the size cap, TowerOS's 5556/5557.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TowerClient } from '../../client/rpc.js';
import type { AppInfo, ClipboardTransfer, Event } from '../../protocol/index.js';
import { startHeadlessSway, startXScreen, type Sway } from '../helpers/desktop.js';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { run, TOWERCTL } from '../helpers/towerd.js';
import { until } from '../helpers/until.js';

const root = process.getuid?.() === 0;
/** what `towerctl run` needs, for the test with a real app (its own Xvnc and Xauthority on the host) */
const appTools = ['Xvnc', 'vncviewer', 'matchbox-window-manager', 'wmctrl', 'xauth', 'xlogo', 'xdotool'].filter((tool) => !(process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, tool))));
const CAP = 1024 * 1024;
let t: LabDaemon;
let sway: Sway | undefined;
let events: TowerClient | undefined;
const transfers: ClipboardTransfer[] = [];
const rt = mkdtempSync(join(tmpdir(), 'tower-clip-rt-'));
let waylandDisplay = '';

const settingsFile = () => join(t.lab.home, '.config', 'tower', 'towerd.json');
const wlEnv = () => ({ XDG_RUNTIME_DIR: rt, WAYLAND_DISPLAY: waylandDisplay });

/** towerctl from "the sway session": its Wayland variables, towerd's socket given explicitly. */
function clip(args: string[]) {
  return run(process.execPath, [TOWERCTL, 'clip', ...args], { env: { PATH: process.env.PATH, HOME: t.lab.home, NO_COLOR: '1', TOWER_SOCKET: t.d.socket, ...wlEnv() } });
}

/** The thin client's clipboard, as wl-paste gives it (null: empty). */
async function tcClipboard(): Promise<string | null> {
  const r = await t.lab.execTc(['wl-paste', '--no-newline', '--type', 'text'], { env: wlEnv() });
  return r.code === 0 ? r.stdout : null;
}

async function tcCopy(text: string): Promise<void> {
  // wl-copy forks the process that serves the selection: its stdio must not be ours (lab-facts pitfall 12)
  const r = await t.lab.execTc(['sh', '-c', 'wl-copy --type "text/plain;charset=utf-8" >/dev/null 2>&1'], { env: wlEnv(), input: text });
  if (r.code !== 0) throw new Error(`wl-copy: ${r.code}`);
}

async function hostClipboard(host: string, display = ':5'): Promise<string | null> {
  const r = await t.lab.execHost(host, ['xclip', '-o', '-selection', 'clipboard', '-display', display], { user: 'tower' });
  return r.code === 0 ? r.stdout : null;
}

async function hostCopy(host: string, text: string, display = ':5'): Promise<void> {
  const r = await t.lab.execHost(host, ['sh', '-c', 'xclip -i -selection clipboard -display "$1" >/dev/null 2>&1', 'sh', display], { user: 'tower', input: text });
  if (r.code !== 0) throw new Error(`xclip -i on ${host}: ${r.code}`);
  await until(`${host}'s clipboard to hold the text`, async () => (await hostClipboard(host, display)) === text, 5000);
}

async function setDesktop(desktop: object): Promise<void> {
  writeFileSync(settingsFile(), JSON.stringify({ desktop }));
  await t.client.call('daemon.reload');
}

async function startXvfb(host: string): Promise<void> {
  await t.lab.execHost(host, ['sh', '-c', 'Xvfb :5 -nolisten tcp -screen 0 640x480x24 >/dev/null 2>&1 &'], { user: 'tower' });
  await until(`Xvfb :5 on ${host}`, async () => (await t.lab.execHost(host, ['xclip', '-o', '-display', ':5'], { user: 'tower' })).stderr.includes("Can't open display") === false, 10_000);
}

function lastTransfer(): ClipboardTransfer | undefined {
  return transfers[transfers.length - 1];
}

describe.skipIf(!root)('clipboard between hosts’ apps and the thin client', () => {
  beforeAll(async () => {
    t = await labDaemon('cb', { online: 2, offline: 0, router: false });
    sway = await startHeadlessSway(t.lab.tcSpawnPrefix(), rt);
    waylandDisplay = sway.waylandDisplay;
    await startXvfb('on1');
    events = await TowerClient.connect(t.d.socket, { validate: true });
    await events.subscribe(['clipboard'], (e: Event) => {
      if (e.type === 'clipboard.transfer') transfers.push(e.transfer);
    });
  }, 120_000);
  afterAll(async () => {
    events?.close();
    await sway?.stop();
    await t?.close();
    rmSync(rt, { recursive: true, force: true });
  });

  it('explicit (the default): copy takes the host app’s clipboard into Wayland’s, and only then', async () => {
    expect((await t.client.call('host.get', { name: 'on1' })).clipboard).toBe('explicit');
    await tcCopy('before');
    const text = 'héllo from on1 — “quotes” $HOME `id` \\ \n second line\n';
    await hostCopy('on1', text);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await tcClipboard()).toBe('before');
    const r = await clip(['copy', 'on1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`copied ${Buffer.byteLength(text)} bytes from on1 :5 to the thin client's clipboard\n`);
    expect(await tcClipboard()).toBe(text);
    await until('the event', () => lastTransfer()?.ok === true, 2000);
    expect(lastTransfer()).toEqual({ from: { host: 'on1', display: ':5' }, to: [{ thinclient: true }], mode: 'explicit', bytes: Buffer.byteLength(text), ok: true });
    // wl-copy served it from a private tmpfs: nothing under the machine's /tmp holds it
    const leftovers = await run('sh', ['-c', 'grep -rl "héllo from on1" /tmp/wl-copy-buffer-* 2>/dev/null || true']);
    expect(leftovers.stdout).toBe('');
  });

  it('explicit: paste sends Wayland’s clipboard to the host’s app display', async () => {
    const text = `from the thin client ${Date.now()} ünïcödé`;
    await tcCopy(text);
    const r = await clip(['paste', 'on1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ host: 'on1', displays: [':5'], bytes: Buffer.byteLength(text) });
    await until('on1 to hold the pasted text', async () => (await hostClipboard('on1')) === text, 5000);
    expect(lastTransfer()).toEqual({ from: { thinclient: true }, to: [{ host: 'on1', display: ':5' }], mode: 'explicit', bytes: Buffer.byteLength(text), ok: true });
  });

  it('the cap: exactly 1 MiB moves, one byte more is refused both ways with a message, nothing is cut', async () => {
    const exact = 'x'.repeat(CAP - 1) + '\n';
    await hostCopy('on1', exact);
    const ok = await clip(['copy', 'on1']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await tcClipboard()).toBe(exact);

    await tcCopy('kept');
    await hostCopy('on1', 'y'.repeat(CAP + 1));
    const over = await clip(['copy', 'on1']);
    expect(over.code).toBe(1);
    expect(over.stderr).toMatch(/the clipboard of on1 :5 holds 1048577 bytes \(1\.0 MiB\), over the cap of 1048576 bytes .*nothing was copied/);
    expect(await tcClipboard()).toBe('kept');
    expect(lastTransfer()).toMatchObject({ from: { host: 'on1', display: ':5' }, ok: false, bytes: CAP + 1 });

    await hostCopy('on1', 'host keeps this');
    await tcCopy('z'.repeat(CAP + 1));
    const back = await clip(['paste', 'on1']);
    expect(back.code).toBe(1);
    expect(back.stderr).toMatch(/the thin client’s clipboard holds 1048577 bytes/);
    expect(await hostClipboard('on1')).toBe('host keeps this');
  });

  it.skipIf(appTools.length > 0)('with an app of towerd (towerctl run): its display and X cookie are used, before other X displays', async () => {
    // the viewer needs a screen: an Xvnc used as a plain X server, as in apps.test.ts
    const screen = await startXScreen({ geometry: '800x600' });
    let app: AppInfo | undefined;
    try {
      const started = await run(process.execPath, [TOWERCTL, 'run', '--json', 'on1', '--', 'xlogo'], { env: { ...t.d.env, DISPLAY: screen.display, NO_COLOR: '1' }, timeoutMs: 30_000 });
      expect(started.code, started.stderr).toBe(0);
      app = (JSON.parse(started.stdout) as { app: AppInfo }).app;
      const env = ['env', `DISPLAY=${app.display}`, `XAUTHORITY=${app.hostDir}/Xauthority`];
      // the app's X server wants its cookie: without it xclip is refused
      expect((await t.lab.execHost('on1', ['xclip', '-o', '-display', app.display!], { user: 'tower' })).stderr).toMatch(/Can't open display/);
      const text = `from the app ${Date.now()}`;
      await t.lab.execHost('on1', [...env, 'sh', '-c', 'xclip -i -selection clipboard >/dev/null 2>&1'], { user: 'tower', input: text });
      // xclip's selection owner forks into the background: wait until it holds the text, as hostCopy does
      await until('the app’s display to own the text', async () => (await t.lab.execHost('on1', [...env, 'xclip', '-o', '-selection', 'clipboard'], { user: 'tower' })).stdout === text, 5000);
      const r = await clip(['copy', 'on1', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ host: 'on1', display: app.display, bytes: Buffer.byteLength(text) });
      expect(await tcClipboard()).toBe(text);
      const back = `to the app ${Date.now()}`;
      await tcCopy(back);
      const p = await clip(['paste', 'on1', '--json']);
      expect(p.code, p.stderr).toBe(0);
      expect(JSON.parse(p.stdout)).toMatchObject({ displays: [app.display] });
      await until('the app’s display to hold the text', async () => (await t.lab.execHost('on1', [...env, 'xclip', '-o', '-selection', 'clipboard'], { user: 'tower' })).stdout === back, 5000);
    } finally {
      if (app) await t.client.call('apps.close', { id: app.id }).catch(() => undefined);
      await screen.stop();
    }
  });

  it('--focused asks sway for the focused window: a window that is not a host app is a usage error', async () => {
    const swaysock = join(rt, readdirSync(rt).find((f) => f.startsWith('sway-ipc.'))!);
    const r = await run(process.execPath, [TOWERCTL, 'clip', 'copy', '--focused'], { env: { PATH: process.env.PATH, HOME: t.lab.home, TOWER_SOCKET: t.d.socket, SWAYSOCK: swaysock, ...wlEnv() } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the focused window is not an app of a Tower host/);
    const both = await clip(['paste', 'on1', '--focused']);
    expect(both.code).toBe(2);
  });

  it('clipboard text is in no event, log record or log line', async () => {
    const secret = `s3cr3t-${Date.now()}`;
    await hostCopy('on1', secret);
    expect((await clip(['copy', 'on1'])).code).toBe(0);
    expect(await tcClipboard()).toBe(secret);
    const logs = await t.client.call('logs.tail', { lines: 10_000, level: 'trace' });
    expect(JSON.stringify(logs)).not.toContain(secret);
    expect(JSON.stringify(transfers)).not.toContain(secret);
    expect(t.d.stderr()).not.toContain(secret);
    expect(JSON.stringify(logs.records.filter((r) => r.msg === 'clipboard transfer').at(-1))).toMatch(/"from":"on1 :5".*"bytes":/);
  });

  it('auto: every change moves by itself, both ways (TowerOS), without sending a text back', async () => {
    await setDesktop({ hosts: { on1: { clipboard: 'auto' } } });
    expect((await t.client.call('host.get', { name: 'on1' })).clipboard).toBe('auto');
    // the host watcher and the Wayland watcher start within a second; the first change after that moves
    let moved = '';
    await until(
      'a host copy to reach the thin client',
      async () => {
        const text = `auto from on1 ${Date.now()}`;
        await hostCopy('on1', text);
        await new Promise((r) => setTimeout(r, 800));
        moved = text;
        return (await tcClipboard()) === text;
      },
      15_000,
    );
    expect(transfers.some((x) => x.mode === 'auto' && x.ok && 'host' in x.from && x.from.host === 'on1' && x.bytes === Buffer.byteLength(moved))).toBe(true);
    const text = `auto from the thin client ${Date.now()}`;
    await tcCopy(text);
    await until('on1 to receive the thin client’s copy', async () => (await hostClipboard('on1')) === text, 5000);
    // what came from the thin client is not sent back to it as a change of on1
    const n = transfers.length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(transfers.slice(n).filter((x) => 'host' in x.from && x.from.host === 'on1')).toEqual([]);
    // the watcher runs on the host (the `off` test below checks that it goes away)
    expect((await t.lab.execHost('on1', ['pgrep', '-u', 'tower', '-f', 'c[k]sum'])).stdout).not.toBe('');
  });

  it('auto comes back by itself after the host’s cable was cut', async () => {
    await t.lab.cut('on1');
    await until('on1 offline', async () => (await t.client.call('host.get', { name: 'on1' })).state === 'offline', 5000);
    await t.lab.restore('on1');
    await until('on1 online', async () => (await t.client.call('host.get', { name: 'on1' })).state === 'online', 8000);
    await until(
      'a host copy to reach the thin client again',
      async () => {
        const text = `after the cut ${Date.now()}`;
        await hostCopy('on1', text);
        await new Promise((r) => setTimeout(r, 800));
        return (await tcClipboard()) === text;
      },
      15_000,
    );
  });

  it('auto with a TowerOS host’s own services: its 127.0.0.1:5557 reaches Wayland, Wayland reaches its 127.0.0.1:5556', async () => {
    await setDesktop({ hosts: { on1: { clipboard: 'auto' }, on2: { clipboard: 'auto' } } });
    // TowerOS's xclip-copy-server, with a real nc: each connection's text is appended to a file on the host.
    // TowerOS runs busybox `nc -l -s 127.0.0.1 -p 5556`; Debian's busybox nc has no -s, so OpenBSD's nc listens here.
    await t.lab.execHost('on2', ['sh', '-c', '(while :; do /bin/nc.openbsd -l 127.0.0.1 5556 >> /tmp/copied || sleep 0.2; done) >/dev/null 2>&1 &'], { user: 'tower' });
    const text = `to TowerOS ${Date.now()}`;
    await until(
      'the text to reach on2’s 5556 service',
      async () => {
        await tcCopy(text + ' ' + Date.now());
        await new Promise((r) => setTimeout(r, 800));
        return (await t.lab.execHost('on2', ['cat', '/tmp/copied'], { user: 'tower' })).stdout.includes(text);
      },
      10_000,
    );
    expect(transfers.some((x) => x.ok && x.to.some((e) => 'host' in e && e.host === 'on2' && e.display === 'tcp:5556'))).toBe(true);
    // TowerOS's xclip-watch: `nc -w 1 127.0.0.1 5557` with the new text
    const fromHost = `from TowerOS xclip-watch ${Date.now()}`;
    const sent = await t.lab.execHost('on2', ['sh', '-c', 'printf %s "$1" | nc -w 1 127.0.0.1 5557', 'sh', fromHost], { user: 'tower' });
    expect(sent.code, sent.stderr).toBe(0);
    await until('the thin client to hold on2’s text', async () => (await tcClipboard()) === fromHost, 5000);
    // and, as in TowerOS, on to the other hosts in auto mode
    await until('on1 to hold on2’s text', async () => (await hostClipboard('on1')) === fromHost, 5000);
  });

  it('auto with a hostile host: 200,000 change lines cost a few reads, and its 5557 receiver takes 4 connections at a time', async () => {
    await setDesktop({ hosts: { on1: { clipboard: 'auto' } } });
    // towerd learns the Wayland session from towerctl (the earlier tests told it already, when they ran)
    expect((await clip(['session'])).code).toBe(0);
    // the host's own programs lie: its `sleep` once prints a flood of `:5` lines into the watcher's output, and its
    // `xclip` counts the reads that are not the watcher's own (towerd's, in their own SSH sessions)
    const fakeSleep = '#!/bin/sh\nif [ "$1" = 0.3 ] && rm /tmp/clip-flood 2>/dev/null; then yes :5 | head -n 200000; fi\nexec /run/lab/real-sleep "$@"\n';
    const fakeXclip = "#!/bin/sh\ncase \" $* \" in *' -o '*) tr '\\0' ' ' < /proc/$PPID/cmdline | grep -q 'first=1' || echo read >> /tmp/clip-reads;; esac\nexec /run/lab/real-xclip \"$@\"\n";
    // the programs the login user's PATH finds: on the Alpine-like profile `sleep` is a busybox applet link, which is
    // replaced (a bind mount would follow it onto busybox itself); other files are bind-mounted over
    const found = await t.lab.execHost('on1', ['sh', '-c', 'command -v sleep; command -v xclip'], { user: 'tower' });
    const [sleepPath, xclipPath] = found.stdout.trim().split('\n');
    expect(sleepPath && xclipPath, found.stderr).toBeTruthy();
    const fake = 'for n in sleep xclip; do eval p=\\$$n; if [ -L "$p" ]; then readlink "$p" > /run/lab/link-$n; ln -sfn /run/lab/fake-$n "$p"; else mount --bind /run/lab/fake-$n "$p"; fi; done';
    const unfake = 'for n in sleep xclip; do eval p=\\$$n; if [ -f /run/lab/link-$n ]; then ln -sfn "$(cat /run/lab/link-$n)" "$p"; rm /run/lab/link-$n; else umount "$p"; fi; done';
    const setup = await t.lab.execHost('on1', [
      'sh',
      '-c',
      `set -e; sleep=$3; xclip=$4; cp /usr/bin/sleep /run/lab/real-sleep; cp /usr/bin/xclip /run/lab/real-xclip; printf %s "$1" > /run/lab/fake-sleep; printf %s "$2" > /run/lab/fake-xclip; chmod 755 /run/lab /run/lab/fake-sleep /run/lab/fake-xclip; ${fake}`,
      'sh',
      fakeSleep,
      fakeXclip,
      sleepPath!,
      xclipPath!,
    ]);
    expect(setup.code, setup.stderr).toBe(0);
    try {
      await until(
        'a host copy to reach the thin client',
        async () => {
          const text = `before the flood ${Date.now()}`;
          await hostCopy('on1', text);
          await new Promise((r) => setTimeout(r, 800));
          return (await tcClipboard()) === text;
        },
        15_000,
      );
      await t.lab.execHost('on1', ['sh', '-c', 'rm -f /tmp/clip-reads; : > /tmp/clip-flood'], { user: 'tower' });
      await until('the flood to be sent', async () => (await t.lab.execHost('on1', ['test', '-e', '/tmp/clip-flood'])).code !== 0, 5000);
      // what the thin client copies next is queued behind what the flood queued: a few reads, not 200,000
      const text = `after the flood ${Date.now()}`;
      await tcCopy(text);
      await until('on1 to receive the thin client’s copy after the flood', async () => (await hostClipboard('on1')) === text, 20_000);
      const reads = Number((await t.lab.execHost('on1', ['sh', '-c', 'cat /tmp/clip-reads 2>/dev/null | wc -l'])).stdout.trim());
      // per display a read running and one waiting while the lines arrive, and one for the copy that just landed on :5
      expect(reads).toBeGreaterThanOrEqual(1);
      expect(reads).toBeLessThanOrEqual(10);

      // settle :5 (the watcher also reports the copy just written there) so that only the receiver changes things now
      const settled = `settled ${Date.now()}`;
      await hostCopy('on1', settled);
      await until('the settled copy on the thin client', async () => (await tcClipboard()) === settled, 10_000);

      // eight connections to the host's 127.0.0.1:5557 at once, none ending: towerd takes four, closes the others
      const probe = String.raw`
import json, select, socket, time
conns = [socket.create_connection(("127.0.0.1", 5557)) for _ in range(8)]
for i, c in enumerate(conns):
    c.sendall(b"held %d" % i)
closed = set()
deadline = time.time() + 30
while len(closed) < 4 and time.time() < deadline:
    ready, _, _ = select.select([c for i, c in enumerate(conns) if i not in closed], [], [], 1)
    for c in ready:
        if c.recv(100) == b"":
            closed.add(conns.index(c))
still = [i for i in range(8) if i not in closed]
for i in still:
    conns[i].shutdown(socket.SHUT_WR)
print(json.dumps({"closed": sorted(closed), "open": still}))
`;
      const before = transfers.length;
      const r = await t.lab.execHost('on1', ['python3', '-c', probe], { user: 'tower' });
      expect(r.code, r.stderr).toBe(0);
      const res = JSON.parse(r.stdout) as { closed: number[]; open: number[] };
      expect(res.closed).toHaveLength(4);
      expect(res.open).toHaveLength(4);
      // the four kept deliver when they end (the newest wins); no text of a refused one reaches the thin client
      const kept = new Set(res.open.map((i) => `held ${i}`));
      await until('a kept connection’s text on the thin client', async () => kept.has((await tcClipboard()) ?? ''), 10_000);
      expect(transfers.slice(before).filter((x) => 'host' in x.from && x.from.display === 'tcp:5557').length).toBeLessThanOrEqual(4);
      const logs = await t.client.call('logs.tail', { lines: 200, level: 'warn' });
      expect(logs.records.map((x) => x.msg)).toContain("clipboard (auto): refused a connection from on1's 127.0.0.1:5557: 4 are open");
    } finally {
      await t.lab.execHost('on1', ['sh', '-c', `sleep=$1; xclip=$2; ${unfake}; rm -f /tmp/clip-flood /tmp/clip-reads`, 'sh', sleepPath!, xclipPath!]);
    }
  });

  it('off: nothing moves, neither on request nor by itself', async () => {
    await setDesktop({ clipboard: 'off' });
    expect((await t.client.call('host.get', { name: 'on1' })).clipboard).toBe('off');
    await tcCopy('thin client only');
    await hostCopy('on1', 'host only');
    const c = await clip(['copy', 'on1']);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/the clipboard is off for on1/);
    const p = await clip(['paste', 'on1']);
    expect(p.code).toBe(1);
    await hostCopy('on1', 'host only, changed');
    await tcCopy('thin client only, changed');
    await new Promise((r) => setTimeout(r, 2000));
    expect(await tcClipboard()).toBe('thin client only, changed');
    expect(await hostClipboard('on1')).toBe('host only, changed');
    // the auto-mode watchers are gone from the hosts, and their 5557 forwards from towerd
    for (const h of ['on1', 'on2']) expect((await t.lab.execHost(h, ['pgrep', '-u', 'tower', '-f', 'c[k]sum'])).stdout, h).toBe('');
    expect((await t.client.call('forward.list', {})).forwards.filter((f) => 'tcp' in f.listen && f.listen.tcp.port === 5557)).toEqual([]);
  });
});
