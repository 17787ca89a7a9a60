// `npm run bench`: every number next to a baseline measured in the same run, so machines can be compared by ratio.
import { writeFileSync } from 'node:fs';
import { benchCli } from './cli.js';
import { benchHosts } from './lab-hosts.js';
import { benchRelay, benchRelayHops } from './lab-relay.js';
import { benchFairness, benchForward, benchRecovery } from './lab-ssh.js';
import { benchRpc } from './rpc.js';
import { benchApps } from './lab-apps.js';
import { benchClipboard } from './lab-clipboard.js';
import { benchFiles } from './lab-files.js';
import { benchBackup } from './lab-backup.js';
import type { Row } from './stats.js';

const only = process.argv.slice(2);
// forward, fair, recovery, hosts, relay, files and backup need root: each brings up its own lab of real OpenSSH hosts and tears it down
const suites: Record<string, () => Promise<Row[]>> = { rpc: benchRpc, cli: benchCli, forward: benchForward, fair: benchFairness, recovery: benchRecovery, hosts: benchHosts, relay: benchRelay, 'relay-hops': benchRelayHops, apps: () => benchApps(), clipboard: benchClipboard, files: benchFiles, backup: benchBackup };
const results: Record<string, Row[]> = {};
for (const [name, fn] of Object.entries(suites)) {
  if (only.length && !only.includes(name)) continue;
  results[name] = await fn();
}
const out = process.env.BENCH_JSON;
if (out) writeFileSync(out, JSON.stringify(results, null, 2));
const missed = Object.values(results).flat().filter((r) => r.ok === false);
process.stdout.write(`\n${missed.length ? `${missed.length} target(s) missed` : 'all targets met'}\n`);
