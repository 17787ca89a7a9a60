// Integration tests build labs with prefixes of the 'twl' family. A crashed run can leave one behind;
// remove those before the tests start and after they end. Labs still owned by a live process (another
// test run on this machine) or started persistently with `cli.ts up` are left alone.
import { labDownStale } from '../lab/lab.js';

const LAB_FAMILY = 'twl';

async function removeStaleLabs(when: string): Promise<void> {
  if (process.getuid?.() !== 0) return; // lab tests skip themselves without root
  const { removed } = await labDownStale(LAB_FAMILY);
  if (removed.length > 0) console.warn(`[global-setup] ${when}: removed stale labs ${removed.join(', ')}`);
}

export default async function setup(): Promise<() => Promise<void>> {
  await removeStaleLabs('before tests');
  return () => removeStaleLabs('after tests');
}
