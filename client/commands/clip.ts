import { spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import type { ClipboardEnd, ClipboardTransfer, WaylandEnv } from '../../protocol/index.js';
import { UsageError, print, withClient } from '../context.js';
import { escapeControls as esc, json, table } from '../render.js';

/** This terminal's Wayland session, passed to towerd with each request (towerd may have been started before sway). */
export function waylandEnv(env: NodeJS.ProcessEnv = process.env): WaylandEnv | undefined {
  const display = env.WAYLAND_DISPLAY;
  const runtimeDir = env.XDG_RUNTIME_DIR;
  if (!display || !runtimeDir?.startsWith('/')) return undefined;
  return { display, runtimeDir };
}

interface SwayNode {
  focused?: boolean;
  app_id?: string | null;
  window_properties?: { class?: string };
  nodes?: SwayNode[];
  floating_nodes?: SwayNode[];
}

function focusedNode(n: SwayNode): SwayNode | undefined {
  if (n.focused) return n;
  for (const c of [...(n.nodes ?? []), ...(n.floating_nodes ?? [])]) {
    const f = focusedNode(c);
    if (f) return f;
  }
  return undefined;
}

/** The host of sway's focused window: app windows are `tower-HOST` (Wayland app_id or X class). */
export function focusedHost(tree: SwayNode): string | undefined {
  const f = focusedNode(tree);
  const id = f?.app_id ?? f?.window_properties?.class ?? '';
  return /^tower-([a-z0-9](?:[a-z0-9-]{0,13}[a-z0-9])?)$/.exec(id)?.[1];
}

function hostArg(host: string | undefined, focused: boolean | undefined): string {
  if (host && focused) throw new UsageError('give HOST or --focused, not both');
  if (host) return host;
  if (!focused) throw new UsageError('give HOST, or --focused for the host of sway’s focused window');
  const r = spawnSync('swaymsg', ['-t', 'get_tree', '-r'], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0) throw new UsageError(`cannot ask sway for the focused window: ${(r.stderr || r.error?.message || '').trim()}`);
  const h = focusedHost(JSON.parse(r.stdout) as SwayNode);
  if (!h) throw new UsageError('the focused window is not an app of a Tower host (its app id or class is not tower-HOST)');
  return h;
}

function endText(e: ClipboardEnd): string {
  return 'host' in e ? `${e.host}${e.display ? ` ${e.display}` : ''}` : 'thin client';
}

/** One line for `towerctl watch`: who → whom, how many bytes (never the text). */
export function transferText(t: ClipboardTransfer): string {
  const what = `clipboard ${t.mode}: ${endText(t.from)} → ${t.to.map(endText).join(', ') || '-'}, ${t.bytes} bytes`;
  return esc(t.ok ? what : `${what} REFUSED: ${t.reason ?? ''}`);
}

const SHARED_HELP = `
Text only (UTF-8), up to desktop.clipboardMaxBytes (default 1 MiB): a larger content is refused with a
message, never cut. The text is never written to disk or logged; towerd logs and publishes (topic
"clipboard") who sent how many bytes to whom. Refused when desktop.clipboard is "off" for the host.
towerctl passes its WAYLAND_DISPLAY and XDG_RUNTIME_DIR to towerd, which uses wl-copy and wl-paste.

Exit status: 0 done, 1 refused (clipboard off, empty, over the cap, not UTF-8; no app display; no
Wayland session), 3 towerd not running, 4 the host is not connected or xclip failed there.`;

export function register(program: Command): void {
  const clip = program
    .command('clip')
    .description('Move the clipboard between a host’s apps and the thin client, on request (desktop.clipboard "explicit").');

  clip
    .command('copy')
    .description('Take the clipboard of HOST’s focused app into the thin client’s clipboard.')
    .argument('[host]', 'host name')
    .option('--focused', 'the host of sway’s focused window (for key bindings)')
    .option('--display <display>', 'the app display to take it from (default: the host’s most recent app)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `${SHARED_HELP}

Examples:
  $ towerctl clip copy work          # Ctrl-C in an app of work, then this (sway: Mod+Ctrl+c)
  copied 42 bytes from work :3 to the thin client's clipboard`,
    )
    .action(async (hostName: string | undefined, opts: { display?: string; focused?: boolean; json?: boolean }, cmd: Command) => {
      const host = hostArg(hostName, opts.focused);
      const wayland = waylandEnv();
      const r = await withClient(cmd, (c) => c.call('clipboard.copy', { host, ...(opts.display ? { display: opts.display } : {}), ...(wayland ? { wayland } : {}) }));
      print(opts.json ? json(r) : `copied ${r.bytes} bytes from ${esc(`${r.host} ${r.display}`)} to the thin client's clipboard\n`);
    });

  clip
    .command('paste')
    .description('Send the thin client’s clipboard to HOST’s app displays.')
    .argument('[host]', 'host name')
    .option('--focused', 'the host of sway’s focused window (for key bindings)')
    .option('--display <display>', 'only this app display (default: every app display of the host)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `${SHARED_HELP}

Examples:
  $ towerctl clip paste work         # then Ctrl-V in the app (sway: Mod+Ctrl+v)
  pasted 42 bytes to work :3`,
    )
    .action(async (hostName: string | undefined, opts: { display?: string; focused?: boolean; json?: boolean }, cmd: Command) => {
      const host = hostArg(hostName, opts.focused);
      const wayland = waylandEnv();
      const r = await withClient(cmd, (c) => c.call('clipboard.paste', { host, ...(opts.display ? { display: opts.display } : {}), ...(wayland ? { wayland } : {}) }));
      print(opts.json ? json(r) : `pasted ${r.bytes} bytes to ${esc(`${r.host} ${r.displays.join(' ')}`)}\n`);
    });

  clip
    .command('session')
    .description('Tell towerd this Wayland session (for "auto" mode), and show each host’s sound and clipboard.')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      `
sway runs this at start (client/sway/tower.conf), so that towerd, which may have started before sway, can
follow the Wayland clipboard for hosts in "auto" mode. Columns: SOUND (on, off, down: the host's PulseAudio
forward or the thin client's PulseAudio is not working, with the reason), CLIPBOARD (off, explicit, auto),
DISPLAYS (the host's app displays, most recent first).

Example:
  $ towerctl clip session
  HOST  SOUND  CLIPBOARD  DISPLAYS  SOUND ERROR
  work  on     explicit   :3`,
    )
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const wayland = waylandEnv();
      const r = await withClient(cmd, (c) => c.call('clipboard.session', wayland ? { wayland } : {}));
      if (opts.json) return print(json(r));
      const head = r.wayland ? `Wayland session: ${esc(`${r.wayland.display} in ${r.wayland.runtimeDir}`)}` : 'Wayland session: none known (set WAYLAND_DISPLAY and XDG_RUNTIME_DIR)';
      print(
        `${head}; clipboard cap ${r.maxBytes} bytes\n` +
          (r.hosts.length
            ? table(
                ['HOST', 'SOUND', 'CLIPBOARD', 'DISPLAYS', 'SOUND ERROR'],
                r.hosts.map((h) => [esc(h.name), esc(h.sound), esc(h.clipboard), esc(h.displays.join(' ') || '-'), esc(h.soundError ?? '')]),
              )
            : 'No hosts.\n'),
      );
    });
}
