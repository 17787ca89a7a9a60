// What a host must have for Tower's features, as host programs and the Alpine packages that provide them (README,
// "Host packages"). Every package is in Alpine 3.19's main or community; xprop and xdotool are in TowerOS's stock
// set, so `host setup` installs them only where someone removed them.
import type { HostTool } from '../../../protocol/setup.js';

export interface Need {
  tool: string;
  package: string;
  for: string;
  required: boolean;
}

export const HOST_NEEDS: readonly Need[] = [
  { tool: 'Xvnc', package: 'tigervnc', for: 'run: the app’s X server', required: true },
  { tool: 'xauth', package: 'xauth', for: 'run: the app’s cookie', required: true },
  { tool: 'openbox', package: 'openbox', for: 'run: keeps the app maximized', required: true },
  { tool: 'xprop', package: 'xprop', for: 'run: window manager ready, the app’s windows', required: true },
  { tool: 'xdotool', package: 'xdotool', for: 'run: polite close', required: true },
  { tool: 'xrandr', package: 'xrandr', for: 'run: fast resize', required: false },
  { tool: 'xclip', package: 'xclip', for: 'clip and clipboard auto', required: true },
  { tool: 'flock', package: 'busybox', for: 'run: the app’s lock', required: true },
  { tool: 'setsid', package: 'busybox', for: 'run: the app’s supervisor', required: true },
  { tool: 'od', package: 'busybox', for: 'run: the cookie', required: true },
];

/** What a host whose files a backup set backs up needs as well (towerd.json backup.sets; restic runs there). */
export const BACKUP_NEED: Need = { tool: 'restic', package: 'restic', for: 'backup: encrypts the host’s files before they leave it', required: true };

/** A host's needs: every host's, and restic where a backup set runs. */
export function needsFor(backupSets: number): readonly Need[] {
  return backupSets > 0 ? [...HOST_NEEDS, BACKUP_NEED] : HOST_NEEDS;
}

/** `command -v` of each program given as an argument: one `NAME yes|no` line each. Run as `sh -c PROBE sh TOOLS…`. */
export const TOOLS_PROBE = 'for t do if command -v "$t" >/dev/null 2>&1; then echo "$t yes"; else echo "$t no"; fi; done';

/**
 * PROBE's answer read against the list: only the lines for programs that were asked about count, and a program the
 * host said nothing about counts as missing (the host's word decides nothing it was not asked).
 */
export function parseTools(stdout: string, needs: readonly Need[] = HOST_NEEDS): HostTool[] {
  const seen = new Map<string, boolean>();
  for (const l of stdout.split('\n').slice(0, 4 * needs.length)) {
    const m = /^(\S{1,64}) (yes|no)$/.exec(l);
    if (m && needs.some((n) => n.tool === m[1]) && !seen.has(m[1]!)) seen.set(m[1]!, m[2] === 'yes');
  }
  return needs.map((n) => ({ tool: n.tool, package: n.package, for: n.for, required: n.required, present: seen.get(n.tool) ?? false }));
}

/** Did the probe answer for every program? A channel can close without its exit status (core/exec/run.ts). */
export function answeredAll(stdout: string, needs: readonly Need[] = HOST_NEEDS): boolean {
  const lines = new Set(stdout.split('\n'));
  return needs.every((n) => lines.has(`${n.tool} yes`) || lines.has(`${n.tool} no`));
}

/** The packages that bring what is missing, each once, in list order. */
export function missingPackages(tools: readonly HostTool[]): string[] {
  return [...new Set(tools.filter((t) => !t.present).map((t) => t.package))];
}
