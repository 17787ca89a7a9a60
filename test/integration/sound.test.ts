// Sound for real: a PulseAudio with a null sink in the thin-client namespace, towerd's per-host forward from the
// host's 127.0.0.1:4713 to its Unix socket, paplay on the host, parecord from the sink's monitor on the thin client.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDaemon, type LabDaemon } from '../helpers/labd.js';
import { towerctl } from '../helpers/towerd.js';
import { until } from '../helpers/until.js';

const root = process.getuid?.() === 0;
const RATE = 44100;
let t: LabDaemon;
let pulse: ChildProcess | undefined;
const dir = mkdtempSync(join(tmpdir(), 'tower-sound-'));
const socket = join(dir, 'pulse', 'native');
mkdirSync(join(dir, 'pulse'));
const settingsFile = () => join(t.lab.home, '.config', 'tower', 'towerd.json');

/** A 16-bit mono WAV: `seconds` of a 440 Hz sine at half scale. */
function toneWav(seconds: number): Buffer {
  const n = Math.round(RATE * seconds);
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + n * 2, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(RATE, 24);
  b.writeUInt32LE(RATE * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(16000 * Math.sin((2 * Math.PI * 440 * i) / RATE)), 44 + i * 2);
  return b;
}

/** Root mean square of s16le samples. */
function rms(raw: Buffer): number {
  const n = Math.floor(raw.length / 2);
  if (n === 0) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += raw.readInt16LE(i * 2) ** 2;
  return Math.sqrt(sum / n);
}

async function startPulse(): Promise<void> {
  const cfg = join(dir, 'tc.pa');
  writeFileSync(cfg, ['load-module module-null-sink sink_name=tower_test', 'set-default-sink tower_test', `load-module module-native-protocol-unix socket=${socket}`,
    // a TowerOS-style thin client: the native protocol on loopback TCP (TowerOS's line, plus listen=127.0.0.1)
    'load-module module-native-protocol-tcp listen=127.0.0.1 port=4714 auth-ip-acl=127.0.0.1 auth-anonymous=1',
    '',
  ].join('\n'));
  const [cmd, ...pre] = t.lab.tcSpawnPrefix();
  pulse = spawn(cmd!, [...pre, 'pulseaudio', '-n', '-F', cfg, '--daemonize=no', '--exit-idle-time=-1', '--use-pid-file=no', '--disallow-exit', '--log-target=stderr'], {
    env: { PATH: process.env.PATH, HOME: dir, XDG_RUNTIME_DIR: dir, XDG_CONFIG_HOME: join(dir, 'config') },
    stdio: 'ignore',
  });
  await until('PulseAudio on the thin client', async () => (await t.lab.execTc(['pactl', 'info'], { env: { PULSE_SERVER: `unix:${socket}`, HOME: dir } })).code === 0, 10_000);
}

async function stopPulse(): Promise<void> {
  const p = pulse;
  pulse = undefined;
  if (!p || p.exitCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await gone;
}

/** Record the null sink's monitor on the thin client while `during` runs; the level of what was heard. */
async function recordWhile(during: () => Promise<void>): Promise<number> {
  const [cmd, ...pre] = t.lab.tcSpawnPrefix();
  const rec = spawn(cmd!, [...pre, 'parecord', '--device=tower_test.monitor', '--raw', '--format=s16le', `--rate=${RATE}`, '--channels=1', '--latency-msec=20'], {
    env: { PATH: process.env.PATH, HOME: dir, PULSE_SERVER: `unix:${socket}` },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const chunks: Buffer[] = [];
  rec.stdout.on('data', (b: Buffer) => chunks.push(b));
  const ended = new Promise((r) => rec.once('exit', r));
  try {
    await new Promise((r) => setTimeout(r, 300));
    await during();
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    rec.kill('SIGTERM');
    await ended;
  }
  // an idle null sink's monitor may deliver nothing at all: silence is then a level of 0 from no samples
  return rms(Buffer.concat(chunks));
}

const soundOf = async (name: string) => (await t.client.call('host.get', { name })).sound;
const play = () => towerctl(t.d, ['exec', 'on1', '--', 'env', 'PULSE_SERVER=tcp:127.0.0.1:4713', 'paplay', '/run/lab/tone.wav']);

describe.skipIf(!root)('sound: one PulseAudio forward per host', () => {
  beforeAll(async () => {
    t = await labDaemon('au', { online: 1, offline: 0, router: false }, { desktop: { soundServer: socket } });
    writeFileSync(join(t.lab.host('on1').bootDir, 'tone.wav'), toneWav(1));
    await startPulse();
  }, 60_000);
  afterAll(async () => {
    await stopPulse();
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('paplay on the host is heard on the thin client, through the forward to its Unix socket', async () => {
    await expect.poll(() => soundOf('on1'), { timeout: 5000 }).toBe('on');
    const silence = await recordWhile(() => new Promise((r) => setTimeout(r, 500)));
    expect(silence).toBeLessThan(50);
    let played: Awaited<ReturnType<typeof play>> | undefined;
    const level = await recordWhile(async () => {
      played = await play();
    });
    expect(played?.code, played?.stderr).toBe(0);
    // a 440 Hz sine at 16000 has an RMS of about 11300
    expect(level).toBeGreaterThan(3000);
    const fwd = (await t.client.call('forward.list', { host: 'on1' })).forwards.find((f) => 'tcp' in f.listen && f.listen.tcp.port === 4713);
    expect(fwd).toMatchObject({ direction: 'remote', connect: { unix: socket }, state: 'active' });
    expect(fwd!.bytesFromHost).toBeGreaterThan(44100);
  });

  it('two apps of one host play at once through the one forward (TowerOS’s -R 4713 collided)', async () => {
    const level = await recordWhile(async () => {
      const [a, b] = await Promise.all([play(), play()]);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
    });
    expect(level).toBeGreaterThan(3000);
    expect((await t.client.call('forward.list', { host: 'on1' })).forwards.filter((f) => 'tcp' in f.listen && f.listen.tcp.port === 4713)).toHaveLength(1);
  });

  it('the state is down without the thin client’s PulseAudio, and on again when it is back; status and clip session say so', async () => {
    await stopPulse();
    // checked every 5 s while it answers
    await expect.poll(() => soundOf('on1'), { timeout: 8000 }).toBe('down');
    const status = JSON.parse((await towerctl(t.d, ['status', '--json'])).stdout) as { hosts: { name: string; sound: string }[] };
    expect(status.hosts.find((h) => h.name === 'on1')?.sound).toBe('down');
    const s = await towerctl(t.d, ['clip', 'session']);
    expect(s.stdout).toMatch(/on1\s+down\s+explicit\s+\S+\s+.*PulseAudio.*ENOENT|on1\s+down\s+explicit\s+-\s+.*PulseAudio/);
    await startPulse();
    await expect.poll(() => soundOf('on1'), { timeout: 5000 }).toBe('on');
  });

  it('comes back by itself after the host’s cable was cut', async () => {
    await t.lab.cut('on1');
    await expect.poll(() => soundOf('on1'), { timeout: 5000 }).toBe('down');
    await t.lab.restore('on1');
    await expect.poll(() => soundOf('on1'), { timeout: 8000 }).toBe('on');
    const level = await recordWhile(async () => {
      const r = await play();
      expect(r.code, r.stderr).toBe(0);
    });
    expect(level).toBeGreaterThan(3000);
  });

  it('sound off for a host: no listener on its 4713, paplay fails, nothing is heard', async () => {
    writeFileSync(settingsFile(), JSON.stringify({ desktop: { soundServer: socket, hosts: { on1: { sound: 'off' } } } }));
    await t.client.call('daemon.reload');
    await expect.poll(() => soundOf('on1'), { timeout: 5000 }).toBe('off');
    expect((await t.client.call('forward.list', { host: 'on1' })).forwards).toHaveLength(0);
    const listening = await t.lab.execHost('on1', ['sh', '-c', 'ss -Htln | grep -c ":4713 " || true']);
    expect(listening.stdout.trim()).toBe('0');
    let played: Awaited<ReturnType<typeof play>> | undefined;
    const level = await recordWhile(async () => {
      played = await play();
    });
    expect(played?.code).not.toBe(0);
    expect(level).toBeLessThan(50);
    writeFileSync(settingsFile(), JSON.stringify({ desktop: { soundServer: socket } }));
    await t.client.call('daemon.reload');
    await expect.poll(() => soundOf('on1'), { timeout: 5000 }).toBe('on');
  });

  it('soundServer tcp:127.0.0.1:PORT (a TowerOS-style thin client) works the same', async () => {
    writeFileSync(settingsFile(), JSON.stringify({ desktop: { soundServer: 'tcp:127.0.0.1:4714' } }));
    await t.client.call('daemon.reload');
    await expect.poll(async () => (await t.client.call('forward.list', { host: 'on1' })).forwards.map((f) => [f.connect, f.state]), { timeout: 5000 }).toEqual([[{ tcp: { host: '127.0.0.1', port: 4714 } }, 'active']]);
    await expect.poll(() => soundOf('on1'), { timeout: 5000 }).toBe('on');
    const level = await recordWhile(async () => {
      const r = await play();
      expect(r.code, r.stderr).toBe(0);
    });
    expect(level).toBeGreaterThan(3000);
  });
});
