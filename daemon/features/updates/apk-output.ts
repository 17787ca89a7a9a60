import { PackageUpgrade } from '../../../protocol/updates.js';

const UPGRADING = /^\(\s*\d+\/\d+\) Upgrading (\S+) \((\S+) -> (\S+)\)$/;
const MAX_LINES = 50_000;

/**
 * The upgrades in the output of `apk upgrade` (with or without --simulate): apk prints one
 * `(i/n) Upgrading NAME (OLD -> NEW)` line per package. A line of that shape whose name or versions do not pass
 * the schemas makes the whole output untrusted.
 */
export function parseUpgrades(stdout: string): PackageUpgrade[] {
  const out: PackageUpgrade[] = [];
  const lines = stdout.split('\n');
  if (lines.length > MAX_LINES) throw new Error(`apk printed more than ${MAX_LINES} lines`);
  for (const raw of lines) {
    const m = UPGRADING.exec(raw.replace(/\r$/, ''));
    if (!m) continue;
    const p = PackageUpgrade.safeParse({ name: m[1], from: m[2], to: m[3] });
    if (!p.success) throw new Error(`unexpected apk output: ${JSON.stringify(raw.slice(0, 200))}`);
    out.push(p.data);
  }
  return out;
}
