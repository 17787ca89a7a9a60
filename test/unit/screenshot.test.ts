// The demo's screenshots: PNG written and read back with node's zlib, and the check that the app's window in it
// is not blank (what CI runs on the demo's PNG).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { PNG_SIGNATURE, checkScreenshot, pngChunk, readPng, saveScreenshot, writePng, type RGB, type Shot } from '../helpers/desktop.js';

const dir = mkdtempSync(join(tmpdir(), 'tower-png-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const image = (width: number, height: number, rgb: (x: number, y: number) => RGB): Shot => ({ width, height, rgb });

describe('screenshots as PNG', () => {
  it('round-trips pixels and text chunks', () => {
    const shot = image(37, 23, (x, y) => [x * 7, y * 11, (x * y) & 0xff]);
    const file = join(dir, 'a.png');
    writePng(file, shot, { Comment: 'hello' });
    const back = readPng(file);
    expect([back.width, back.height, back.text.Comment]).toEqual([37, 23, 'hello']);
    for (let y = 0; y < 23; y++) for (let x = 0; x < 37; x++) expect(back.rgb(x, y)).toEqual(shot.rgb(x, y));
  });

  it('reads PNGs written with every filter type (as other encoders write them)', () => {
    const width = 5;
    const height = 5;
    const px = (x: number, y: number): RGB => [x * 40, y * 40, 200];
    // raw rows with filter types 0..4, each encoded as the PNG spec says
    const rows: Buffer[] = [];
    const at = (x: number, y: number, c: number) => (x < 0 || y < 0 ? 0 : px(x, y)[c]!);
    for (let y = 0; y < height; y++) {
      const f = y % 5;
      const row = Buffer.alloc(1 + width * 3);
      row[0] = f;
      for (let x = 0; x < width; x++)
        for (let c = 0; c < 3; c++) {
          const a = at(x - 1, y, c);
          const b = at(x, y - 1, c);
          const cc = at(x - 1, y - 1, c);
          const p = a + b - cc;
          const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - cc) ? a : Math.abs(p - b) <= Math.abs(p - cc) ? b : cc;
          const pred = [0, a, b, (a + b) >> 1, paeth][f]!;
          row[1 + x * 3 + c] = (px(x, y)[c]! - pred) & 0xff;
        }
      rows.push(row);
    }
    const file = join(dir, 'filters.png');
    // the same pixels, each row with its own filter type
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr.set([8, 2, 0, 0, 0], 8);
    writeFileSync(file, Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.concat(rows))), pngChunk('IEND', Buffer.alloc(0))]));
    const back = readPng(file);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) expect(back.rgb(x, y)).toEqual(px(x, y));
  });

  it('the check passes an app window with content and fails a blank one or one off the screen', () => {
    const screen = (inWindow: (x: number, y: number) => RGB) => image(200, 120, (x, y) => (x >= 20 && x < 180 && y >= 10 && y < 110 ? inWindow(x, y) : [0, 0, 0]));
    const win = { x: 20, y: 10, width: 160, height: 100 };
    const ok = join(dir, 'ok.png');
    saveScreenshot(ok, screen((x, y) => (y === 15 && x < 60 ? [0, 0, 0] : [255, 255, 255])), win);
    expect(checkScreenshot(ok)).toMatchObject({ window: win, colours: 2 });
    const blank = join(dir, 'blank.png');
    saveScreenshot(blank, screen(() => [255, 255, 255]), win);
    expect(() => checkScreenshot(blank)).toThrow(/blank \(1 colour\)/);
    // a window reaching past the screen is clipped to what is on it
    const clipped = join(dir, 'clipped.png');
    expect(saveScreenshot(clipped, screen((x) => [x, 0, 0]), { x: 20, y: 10, width: 400, height: 400 })).toEqual({ x: 20, y: 10, width: 180, height: 110 });
    const plain = join(dir, 'plain.png');
    writePng(plain, screen(() => [1, 2, 3]));
    expect(() => checkScreenshot(plain)).toThrow(/no Tower-App-Window/);
  });
});
