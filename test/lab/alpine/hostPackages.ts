// The packages a Tower host needs beyond TowerOS's stock set, published in the lab under the names Alpine gives
// them (test/lab/README.md, "Host packages"). Each installs a small launcher into the apk root that runs the
// machine's Debian program of the same name, so a tool exists on an Alpine-like host exactly when apk has
// installed its package.
import type { PackageSpec } from './types.js';

export interface HostPackage {
  /** Alpine's package name (one exception, see `alpine`). */
  name: string;
  /** Where Alpine has it: `main`, `community`, `testing` (edge only), `none`, or `unchecked` (a test app only). */
  alpine: 'main' | 'community' | 'testing' | 'none' | 'unchecked';
  version: string;
  /** Programs it provides: name under /usr/bin → the Debian program run by the launcher. */
  programs: Record<string, string>;
  description: string;
}

/** What towerd's app supervisor, clipboard and the tests' apps run on a host and a stock TowerOS host lacks. */
export const TOWER_HOST_PACKAGES: readonly HostPackage[] = [
  { name: 'tigervnc', alpine: 'community', version: '1.12.0-r3', programs: { Xvnc: '/usr/bin/Xvnc' }, description: 'TigerVNC server (Xvnc)' },
  { name: 'xrandr', alpine: 'community', version: '1.5.2-r0', programs: { xrandr: '/usr/bin/xrandr' }, description: 'RandR command line' },
  { name: 'openbox', alpine: 'community', version: '3.6.1-r7', programs: { openbox: '/usr/bin/openbox' }, description: 'Openbox window manager' },
  { name: 'xterm', alpine: 'community', version: '388-r0', programs: { xterm: '/usr/bin/xterm' }, description: 'X terminal (test app)' },
  { name: 'xwininfo', alpine: 'community', version: '1.1.6-r0', programs: { xwininfo: '/usr/bin/xwininfo' }, description: 'X window information (test tool)' },
  { name: 'xlogo', alpine: 'unchecked', version: '1.0.6-r0', programs: { xlogo: '/usr/bin/xlogo' }, description: 'X logo (test app)' },
  {
    name: 'pulseaudio-utils',
    alpine: 'community',
    version: '16.1-r11',
    programs: { pactl: '/usr/bin/pactl', paplay: '/usr/bin/paplay', parecord: '/usr/bin/parecord' },
    description: 'PulseAudio client tools',
  },
];

export const TOWER_HOST_PACKAGE_NAMES: readonly string[] = TOWER_HOST_PACKAGES.map((p) => p.name);

/** The packages as apk v2 package specs: one launcher per program (`exec` keeps the pid and the signals). */
export function hostPackageSpecs(): PackageSpec[] {
  return TOWER_HOST_PACKAGES.map((p) => ({
    name: p.name,
    version: p.version,
    description: `${p.description} (Tower lab package: runs the machine's Debian build)`,
    provides: Object.keys(p.programs).map((cmd) => `cmd:${cmd}=${p.version}`),
    files: Object.fromEntries(
      Object.entries(p.programs).map(([cmd, target]) => [`/usr/bin/${cmd}`, { content: `#!/bin/sh\nexec ${target} "$@"\n`, mode: 0o755 }]),
    ),
  }));
}
