// The thin client's desktop for tests and the demo: an X screen for the apps' viewers (TigerVNC's Xvnc used as a
// plain X server), a headless sway for the Wayland clipboard (wl-copy/wl-paste), screenshots of the X screen
// (xwd, decoded here) and PNG files of them (written and read with node's zlib, no image tools needed).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { until } from './until.js';

function stopChild(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 3000);
  return gone.finally(() => clearTimeout(timer));
}

export interface XScreen {
  /** ":N" */
  display: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/**
 * An X server for the viewers: Xvnc serving nothing over VNC, no TCP, the display number it picks itself; started
 * with `spawnPrefix` (e.g. the lab's thin-client namespace) when given.
 */
export async function startXScreen(opts: { geometry?: string; spawnPrefix?: string[] } = {}): Promise<XScreen> {
  const [cmd, ...pre] = [...(opts.spawnPrefix ?? []), 'Xvnc'];
  const proc = spawn(cmd, [...pre, '-displayfd', '3', '-rfbport', '-1', '-SecurityTypes', 'None', '-geometry', opts.geometry ?? '1600x1000', '-depth', '24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  let fd = '';
  proc.stdio[3]!.on('data', (b: Buffer) => (fd += b.toString()));
  try {
    await until('the thin-client X server', () => /\d+\n/.test(fd) || proc.exitCode !== null, 10_000);
    if (proc.exitCode !== null) throw new Error(`Xvnc exited with ${proc.exitCode}`);
  } catch (err) {
    await stopChild(proc);
    throw err;
  }
  return { display: `:${fd.trim()}`, proc, stop: () => stopChild(proc) };
}

export interface Sway {
  /** XDG_RUNTIME_DIR of the session (sway's and wl-copy's sockets are there) */
  runtimeDir: string;
  waylandDisplay: string;
  proc: ChildProcess;
  /** WAYLAND_DISPLAY and XDG_RUNTIME_DIR, for wl-copy, wl-paste and towerctl */
  env(): { XDG_RUNTIME_DIR: string; WAYLAND_DISPLAY: string };
  stop(): Promise<void>;
}

/**
 * A headless sway (no Xwayland) as `user` (sway refuses to run as root), started with `spawnPrefix` (e.g. the lab's
 * thin-client namespace). `runtimeDir` becomes that user's and holds the session's sockets.
 */
export async function startHeadlessSway(spawnPrefix: string[], runtimeDir: string, user = 'tower'): Promise<Sway> {
  chownSync(runtimeDir, Number(execFileSync('id', ['-u', user], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', user], { encoding: 'utf8' })));
  const conf = join(runtimeDir, 'sway.conf');
  writeFileSync(conf, 'xwayland disable\n');
  const [cmd, ...pre] = spawnPrefix;
  const proc = spawn(cmd!, [...pre, 'setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--', 'sway', '-c', conf], {
    env: { PATH: process.env.PATH, HOME: runtimeDir, XDG_RUNTIME_DIR: runtimeDir, WLR_BACKENDS: 'headless', WLR_LIBINPUT_NO_DEVICES: '1', WLR_RENDERER: 'pixman' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = ''; // the end of sway's log, for an error message
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-2000)));
  let waylandDisplay = '';
  try {
    await until(
      'sway’s Wayland socket',
      () => {
        waylandDisplay = readdirSync(runtimeDir).find((f) => /^wayland-\d+$/.test(f)) ?? '';
        return waylandDisplay !== '' || proc.exitCode !== null;
      },
      10_000,
    );
    if (proc.exitCode !== null) throw new Error(`sway exited with ${proc.exitCode} (${runtimeDir} must be reachable by ${user}):\n${log.trim().split('\n').slice(-5).join('\n')}`);
  } catch (err) {
    await stopChild(proc);
    throw err;
  }
  return { runtimeDir, waylandDisplay, proc, env: () => ({ XDG_RUNTIME_DIR: runtimeDir, WAYLAND_DISPLAY: waylandDisplay }), stop: () => stopChild(proc) };
}

export type RGB = [number, number, number];

/** An RGB image, 8 bits per channel, rows top to bottom. */
export interface Shot {
  width: number;
  height: number;
  rgb(x: number, y: number): RGB;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** `xwd -root` of an X display, decoded (TrueColor, 32 bits per pixel, as Xvnc -depth 24 serves it). */
export async function screenshot(display: string): Promise<Shot> {
  const r = await new Promise<Buffer>((resolve, reject) => {
    const p = spawn('xwd', ['-root', '-silent'], { env: { PATH: process.env.PATH, DISPLAY: display } });
    const chunks: Buffer[] = [];
    p.stdout.on('data', (b: Buffer) => chunks.push(b));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`xwd -root on ${display} exited with ${code}`))));
  });
  const u = (i: number) => r.readUInt32BE(i * 4);
  const headerSize = u(0);
  const width = u(4);
  const height = u(5);
  const byteOrder = u(7);
  const bpp = u(11);
  const bytesPerLine = u(12);
  const [rm, gm, bm] = [u(14), u(15), u(16)];
  const ncolors = u(19);
  if (bpp !== 32) throw new Error(`xwd: ${bpp} bits per pixel, expected 32`);
  const data = headerSize + ncolors * 12;
  const shift = (m: number) => Math.log2(m & -m);
  return {
    width,
    height,
    rgb: (x, y) => {
      const off = data + y * bytesPerLine + x * 4;
      const v = byteOrder === 0 ? r.readUInt32LE(off) : r.readUInt32BE(off);
      return [(v & rm) >>> shift(rm), (v & gm) >>> shift(gm), (v & bm) >>> shift(bm)];
    },
  };
}

/** How many pixels of `rect` (every `step`-th in each direction) satisfy `pred`. */
export function countIn(shot: Shot, g: Rect, pred: (p: RGB) => boolean, step = 4): { hits: number; total: number } {
  let hits = 0;
  let total = 0;
  for (let y = Math.max(0, g.y); y < Math.min(shot.height, g.y + g.height); y += step)
    for (let x = Math.max(0, g.x); x < Math.min(shot.width, g.x + g.width); x += step) {
      total++;
      if (pred(shot.rgb(x, y))) hits++;
    }
  return { hits, total };
}

/** The distinct colours of every pixel in `rect` (clipped to the image). */
export function coloursIn(shot: Shot, g: Rect): number {
  const seen = new Set<number>();
  for (let y = Math.max(0, g.y); y < Math.min(shot.height, g.y + g.height); y++)
    for (let x = Math.max(0, g.x); x < Math.min(shot.width, g.x + g.width); x++) {
      const [r, gr, b] = shot.rgb(x, y);
      seen.add((r << 16) | (gr << 8) | b);
    }
  return seen.size;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, type, data, CRC. */
export function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Writes `shot` as an 8-bit RGB PNG; `text` goes into tEXt chunks (keyword → value, Latin-1). */
export function writePng(file: string, shot: Shot, text: Record<string, string> = {}): void {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(shot.width, 0);
  ihdr.writeUInt32BE(shot.height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, truecolour, deflate, no filter method variants, no interlace
  const stride = 1 + shot.width * 3;
  const raw = Buffer.alloc(stride * shot.height);
  for (let y = 0; y < shot.height; y++) {
    raw[y * stride] = 0; // filter type None
    for (let x = 0; x < shot.width; x++) raw.set(shot.rgb(x, y), y * stride + 1 + x * 3);
  }
  const texts = Object.entries(text).map(([k, v]) => pngChunk('tEXt', Buffer.from(`${k}\0${v}`, 'latin1')));
  writeFileSync(file, Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), ...texts, pngChunk('IDAT', deflateSync(raw, { level: 6 })), pngChunk('IEND', Buffer.alloc(0))]));
}

/** Reads an 8-bit RGB or RGBA, non-interlaced PNG (any filter types), and its tEXt chunks. */
export function readPng(file: string): Shot & { text: Record<string, string> } {
  const buf = readFileSync(file);
  if (!buf.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error(`${file}: not a PNG`);
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 3;
  const idat: Buffer[] = [];
  const text: Record<string, string> = {};
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colourType, , , interlace] = data.subarray(8);
      if (depth !== 8 || (colourType !== 2 && colourType !== 6) || interlace !== 0) throw new Error(`${file}: only 8-bit RGB(A) non-interlaced PNGs are read here`);
      channels = colourType === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'tEXt') {
      const nul = data.indexOf(0);
      text[data.toString('latin1', 0, nul)] = data.toString('latin1', nul + 1);
    }
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const bpp = channels;
  const stride = width * bpp;
  const px = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? px[y * stride + i - bpp]! : 0;
      const b = y > 0 ? px[(y - 1) * stride + i]! : 0;
      const c = i >= bpp && y > 0 ? px[(y - 1) * stride + i - bpp]! : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      if (pred === undefined) throw new Error(`${file}: bad filter type ${filter}`);
      px[y * stride + i] = (line[i]! + pred) & 0xff;
    }
  }
  return { width, height, text, rgb: (x, y) => [px[(y * width + x) * bpp]!, px[(y * width + x) * bpp + 1]!, px[(y * width + x) * bpp + 2]!] };
}

/** A window's geometry from `xwininfo -id ID`. */
export function parseXwininfo(text: string): Rect {
  const n = (k: string) => Number(new RegExp(`${k}:\\s+(-?\\d+)`).exec(text)?.[1]);
  return { x: n('Absolute upper-left X'), y: n('Absolute upper-left Y'), width: n('Width'), height: n('Height') };
}

/** "WxH+X+Y" ↔ Rect, as the PNGs the demo writes name the app's window. */
export const formatRect = (g: Rect): string => `${g.width}x${g.height}+${g.x}+${g.y}`;
export function parseRect(s: string): Rect {
  const m = /^(\d+)x(\d+)\+(-?\d+)\+(-?\d+)$/.exec(s);
  if (!m) throw new Error(`not a WxH+X+Y geometry: ${s}`);
  return { width: Number(m[1]), height: Number(m[2]), x: Number(m[3]), y: Number(m[4]) };
}

/** The tEXt keyword naming the app's window (WxH+X+Y) in the screenshots the demo saves. */
export const APP_WINDOW_KEY = 'Tower-App-Window';

/** Saves the screen as a PNG naming the part of the app's window that is on it. */
export function saveScreenshot(file: string, shot: Shot, appWindow: Rect): Rect {
  const x = Math.max(0, appWindow.x);
  const y = Math.max(0, appWindow.y);
  const visible = { x, y, width: Math.max(0, Math.min(shot.width, appWindow.x + appWindow.width) - x), height: Math.max(0, Math.min(shot.height, appWindow.y + appWindow.height) - y) };
  writePng(file, shot, { [APP_WINDOW_KEY]: formatRect(visible), Software: 'Tower demo' });
  return visible;
}

/**
 * Checks a screenshot saved by saveScreenshot: the app's window lies on the screen and shows more than one colour
 * (a blank, never drawn or all-black viewer has one). Returns what it found; throws when the check fails.
 */
export function checkScreenshot(file: string): { window: Rect; colours: number; width: number; height: number } {
  const png = readPng(file);
  const geometry = png.text[APP_WINDOW_KEY];
  if (!geometry) throw new Error(`${file}: no ${APP_WINDOW_KEY} text chunk`);
  const window = parseRect(geometry);
  if (window.width < 50 || window.height < 50 || window.x < 0 || window.y < 0 || window.x + window.width > png.width || window.y + window.height > png.height)
    throw new Error(`${file}: the app's window ${geometry} is not on the ${png.width}x${png.height} screen`);
  const colours = coloursIn(png, window);
  if (colours < 2) throw new Error(`${file}: the app's window ${geometry} is blank (${colours} colour)`);
  return { window, colours, width: png.width, height: png.height };
}
