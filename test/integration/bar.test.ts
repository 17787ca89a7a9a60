// `towerctl bar` as swaybar and waybar run it: a long-lived child process against a real towerd.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TOWERCTL, startDaemon, tempHome, towerctl, type RunningDaemon } from '../helpers/towerd.js';

interface Bar {
  proc: ChildProcessWithoutNullStreams;
  lines(): string[];
  stderr(): string;
  click(line: string): void;
  exited: Promise<number | null>;
}

const daemons: RunningDaemon[] = [];
const bars: Bar[] = [];
afterEach(async () => {
  for (const b of bars.splice(0)) if (b.proc.exitCode === null) b.proc.kill('SIGKILL');
  await Promise.all(daemons.splice(0).map((d) => d.stop('SIGKILL')));
});

/** a home whose towerd does not flag the state export (the bar's export warning is tested in bar-export and export tests) */
function quietHome(): string {
  const home = tempHome();
  mkdirSync(join(home, '.config', 'tower'), { recursive: true });
  writeFileSync(join(home, '.config', 'tower', 'towerd.json'), JSON.stringify({ stateExport: { warn: false } }));
  return home;
}

async function daemon(home = quietHome()): Promise<RunningDaemon> {
  const d = await startDaemon({ home });
  daemons.push(d);
  return d;
}

function startBar(d: RunningDaemon, args: string[]): Bar {
  const proc = spawn(process.execPath, [TOWERCTL, 'bar', ...args], { env: { ...d.env, NO_COLOR: '1' } });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  proc.stdin.on('error', () => undefined);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const bar: Bar = {
    proc,
    // only complete lines: a line is printed with one write, so a partial one is still on its way
    lines: () => out.split('\n').slice(0, -1),
    stderr: () => err,
    click: (line) => proc.stdin.write(line + '\n'),
    exited,
  };
  bars.push(bar);
  return bar;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The blocks of an i3bar status line ("[...]" or ",[...]"). */
function blocks(line: string): { name: string; instance?: string; full_text: string }[] {
  return JSON.parse(line.replace(/^,/, '')) as { name: string; instance?: string; full_text: string }[];
}
const instances = (line: string) => blocks(line).flatMap((b) => (b.instance ? [b.instance] : []));
const summary = (line: string) => blocks(line)[0]!.full_text;

/** A details command that records its argv, one element per line, and the socket it was given. */
function recorder(): { script: string; out: string } {
  const dir = tempHome('bar-details-');
  const out = join(dir, 'argv.txt');
  const script = join(dir, 'record details.sh'); // a space in the path: the template quoting must keep it whole
  writeFileSync(script, `#!/bin/sh\n{ for a in "$@"; do printf '%s\\n' "$a"; done; printf 'TOWER_SOCKET=%s\\n' "$TOWER_SOCKET"; } > '${out}.tmp'\nmv '${out}.tmp' '${out}'\n`);
  chmodSync(script, 0o755);
  return { script, out };
}

describe('towerctl bar --format i3bar', () => {
  it('prints only on change, acts on clicks, and survives towerd going away and coming back', async () => {
    const d = await daemon();
    const rec = recorder();
    const bar = startBar(d, ['--format', 'i3bar', '--details-cmd', `'${rec.script}' --host {host} "two words"`]);
    await expect.poll(() => bar.lines().length).toBe(3);
    const [header, open, first] = bar.lines();
    expect(JSON.parse(header!)).toEqual({ version: 1, click_events: true });
    expect(open).toBe('[');
    expect(first!.startsWith('[')).toBe(true);
    expect(summary(first!)).toBe('tower 0/0');

    // host.added and the registry.changed after it render the same: exactly one line
    await towerctl(d, ['host', 'add', 'work', '--offline']);
    await expect.poll(() => bar.lines().length).toBe(4);
    const added = bar.lines()[3]!;
    expect(added.startsWith(',[')).toBe(true);
    expect(instances(added)).toEqual(['work']);
    expect(summary(added)).toBe('tower 0/1');
    expect(blocks(added)[1]!.full_text).toContain(' work </span>');

    // nothing changes, nothing is printed: no polling, no periodic redraw
    await sleep(1500);
    expect(bar.lines()).toHaveLength(4);

    // garbage and clicks on unknown hosts or other blocks are ignored; a right click runs the details command
    bar.click('[');
    bar.click('this is not json');
    bar.click('{"name":"tower-host","instance":"nope","button":3}');
    bar.click(',{"name":"tower-summary","button":3}');
    bar.click(',{"name":"tower-host","instance":"work","button":3,"x":10,"y":5}');
    await expect.poll(() => existsSync(rec.out)).toBe(true);
    expect(readFileSync(rec.out, 'utf8').split('\n')).toEqual(['--host', 'work', 'two words', `TOWER_SOCKET=${d.socket}`, '']);

    // a left click asks towerd to reconnect the host; this towerd does not supervise, so the error goes to stderr
    bar.click(',{"name":"tower-host","instance":"work","button":1}');
    await expect.poll(() => bar.stderr()).toMatch(/^towerctl bar: host\.reconnect work: (?!towerd is not running).+$/m);
    expect(bar.stderr().trim().split('\n')).toHaveLength(1);
    expect(bar.proc.exitCode).toBeNull();
    expect(bar.lines()).toHaveLength(4); // an error shows nothing on the bar

    await towerctl(d, ['host', 'rm', 'work', '--yes']);
    await expect.poll(() => bar.lines().length).toBe(5);
    expect(instances(bar.lines()[4]!)).toEqual([]);
    await towerctl(d, ['host', 'add', 'mail', '--offline']);
    await expect.poll(() => bar.lines().length).toBe(6);

    // towerd stops: one "towerd down" line, however many reconnect attempts fail meanwhile
    await d.stop();
    await expect.poll(() => bar.lines().length).toBe(7);
    expect(blocks(bar.lines()[6]!)).toEqual([expect.objectContaining({ name: 'tower-daemon', full_text: 'towerd down' })]);
    await sleep(1200);
    expect(bar.lines()).toHaveLength(7);

    // back on the same socket: the bar finds it by itself and shows the hosts again
    await daemon(d.home);
    await expect.poll(() => bar.lines().length, { timeout: 10_000 }).toBe(8);
    expect(instances(bar.lines()[7]!)).toEqual(['mail']);
    expect(bar.proc.exitCode).toBeNull();
    // the whole output is the protocol's endless array, valid JSON once closed
    expect(JSON.parse(bar.lines().slice(1).join('\n') + ']')).toHaveLength(6);
  });

  it('starts without towerd, says so, and ends quietly with 0 when its reader goes away', async () => {
    const home = tempHome();
    const d = { env: { PATH: process.env.PATH, HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CONFIG_HOME: join(home, '.config') } };
    const bar = startBar(d as unknown as RunningDaemon, []);
    await expect.poll(() => bar.lines().length).toBe(3);
    expect(blocks(bar.lines()[2]!)[0]!.full_text).toBe('towerd down');
    // swaybar closes its end; the next line (towerd appearing) hits EPIPE
    bar.proc.stdout.destroy();
    await daemon(home);
    expect(await bar.exited).toBe(0);
    expect(bar.stderr()).toBe('');
  });

  it('bad options are usage errors (exit 2)', async () => {
    const d = await daemon();
    expect((await towerctl(d, ['bar', '--format', 'lemonbar'])).code).toBe(2);
    const r = await towerctl(d, ['bar', '--details-cmd', `foot 'unterminated`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--details-cmd: unterminated single quote');
  });
});

describe('towerctl bar --format waybar', () => {
  it('one JSON object per change, classes by state, towerd down and back', async () => {
    const d = await daemon();
    await towerctl(d, ['host', 'add', 'router', '--router']);
    const bar = startBar(d, ['--format', 'waybar']);
    await expect.poll(() => bar.lines().length).toBe(1);
    const first = JSON.parse(bar.lines()[0]!) as { text: string; tooltip: string; class: string[] };
    expect(first).toMatchObject({ text: '⬤ 0/1', class: ['unsupervised'], percentage: 0, alt: 'unsupervised' });
    expect(first.tooltip).toMatch(/^towerd: 0 of 1 online\n<span background="#[0-9a-f]{6}" foreground="#(000000|ffffff)"> router <\/span> /);

    await towerctl(d, ['host', 'add', 'work', '--offline']);
    await expect.poll(() => bar.lines().length).toBe(2);
    expect(JSON.parse(bar.lines()[1]!)).toMatchObject({ text: '⬤ 0/2' });
    await sleep(1500);
    expect(bar.lines()).toHaveLength(2);

    await d.stop();
    await expect.poll(() => bar.lines().length).toBe(3);
    expect(JSON.parse(bar.lines()[2]!)).toMatchObject({ text: '⬤ towerd down', class: ['daemon-down'] });
    await daemon(d.home);
    await expect.poll(() => bar.lines().length, { timeout: 10_000 }).toBe(4);
    expect(JSON.parse(bar.lines()[3]!)).toMatchObject({ text: '⬤ 0/2', class: ['unsupervised'] });
  });
});

describe('towerctl sway rules', () => {
  it('prints a colour rule pair per window kind for every host', async () => {
    const d = await daemon();
    await towerctl(d, ['host', 'add', 'router', '--router']);
    await towerctl(d, ['host', 'add', 'web', '--online', '--color', '34']);
    const r = await towerctl(d, ['sway', 'rules', '--border', '2']);
    expect(r.code).toBe(0);
    const rules = r.stdout.split('\n').filter((l) => l.startsWith('for_window'));
    expect(rules).toHaveLength(8);
    expect(rules).toContain(`for_window [app_id="^tower-web$"] title_format "<span background='#0000ee' foreground='#ffffff'> web </span> %title"`);
    expect(rules).toContain('for_window [class="^tower-router$"] border normal 2');
    expect((await towerctl(d, ['sway', 'rules', '--border', 'x'])).code).toBe(2);
    await d.stop();
    expect((await towerctl(d, ['sway', 'rules'])).code).toBe(3);
  });
});
