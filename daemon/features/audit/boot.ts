// What TowerOS's installer removes once the host runs from its encrypted disk: tower.env (the host's whole
// configuration, password hash included) from the boot media, and the LUKS key file. Checked where the boot
// partition is mounted (if it is) and at the root of the file system.
import type { AuditCheck } from '../../../protocol/index.js';

export const BOOT_FILES = ['tower.env', 'crypto_keyfile.bin'] as const;
/** the installer copies the key file to the new root and deletes it there after installing */
export const ROOT_KEY_FILE = '/crypto_keyfile.bin';

/**
 * `sh -c BOOT_SCRIPT sh MOUNT...`: for each given path that is a mount point, `mounted PATH`, then `found PATH`
 * for each boot file there; then the root's key file. The paths come in as arguments, never into the text.
 */
export const BOOT_SCRIPT = `for d do
  awk -v m="$d" '$2 == m { f = 1 } END { exit !f }' /proc/mounts || continue
  echo "mounted $d"
  for f in ${BOOT_FILES.join(' ')}; do [ -e "$d/$f" ] && echo "found $d/$f"; done
done
[ -e ${ROOT_KEY_FILE} ] && echo "found ${ROOT_KEY_FILE}"
exit 0`;

/** Lines naming exactly the paths asked about; anything else is ignored. */
export function parseBootOutput(text: string, mounts: readonly string[]): { mounted: string[]; found: string[] } {
  const candidates = new Set([ROOT_KEY_FILE, ...mounts.flatMap((m) => BOOT_FILES.map((f) => `${m.replace(/\/+$/, '')}/${f}`))]);
  const asked = new Set(mounts);
  const mounted: string[] = [];
  const found: string[] = [];
  for (const line of text.split('\n').slice(0, 4 * mounts.length + 2)) {
    if (line.startsWith('mounted ') && asked.has(line.slice(8)) && !mounted.includes(line.slice(8))) mounted.push(line.slice(8));
    else if (line.startsWith('found ') && candidates.has(line.slice(6)) && !found.includes(line.slice(6))) found.push(line.slice(6));
  }
  return { mounted, found };
}

export function bootChecks(r: { mounted: string[]; found: string[] }): AuditCheck[] {
  if (r.found.length)
    return r.found.map((path) => ({ check: path === ROOT_KEY_FILE ? 'left on the root file system' : 'left on boot media', target: path, expect: 'absent', seen: 'present', status: 'open' as const }));
  const where = r.mounted.length ? `none in ${r.mounted.join(', ')}` : 'boot partition not mounted';
  return [{ check: 'left on boot media', target: [...BOOT_FILES, ROOT_KEY_FILE].join(', '), expect: 'absent', seen: where, status: 'ok' }];
}
