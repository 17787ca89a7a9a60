// `npm run demo`: a TowerOS lab of real hosts, towerd in the thin-client namespace, towerctl against it.
// Everything is torn down on exit, Ctrl-C included. `--keep` waits for Ctrl-C before tearing down, so the lab
// can be explored from another terminal with the commands it prints.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TOWERCTL, TOWERD, waitForSocket } from '../helpers/towerd.js';
import { labUp } from './lab.js';

const { values } = parseArgs({
  options: { online: { type: 'string', default: '2' }, offline: { type: 'string', default: '1' }, keep: { type: 'boolean' } },
});
if (process.getuid?.() !== 0) {
  process.stderr.write('npm run demo needs root: it builds network namespaces and runs an sshd per host\n');
  process.exit(1);
}

const home = mkdtempSync(join(tmpdir(), 'tower-demo-'));
const abort = new AbortController();
const say = (s: string) => process.stdout.write(`\n\x1b[1m## ${s}\x1b[0m\n`);
let teardown: () => Promise<void> = () => Promise.resolve();
const onSignal = (sig: NodeJS.Signals) => {
  abort.abort();
  void teardown().then(() => process.exit(sig === 'SIGINT' ? 130 : 143));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

say(`bringing up a lab: router, ${values.online} online and ${values.offline} offline hosts (real sshd each)`);
const t0 = Date.now();
const lab = await labUp({ home, prefix: 'twldemo', online: Number(values.online), offline: Number(values.offline), signal: abort.signal });
process.stdout.write(`up in ${Date.now() - t0} ms; TowerOS home written to ${home}\n`);
for (const h of lab.hosts) process.stdout.write(`  ${h.name.padEnd(8)} ${h.role.padEnd(8)} ${h.ip}\n`);

const env = { ...process.env, HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CONFIG_HOME: join(home, '.config') };
const socket = join(home, 'run', 'tower', 'towerd.sock');
const prefix = lab.tcSpawnPrefix();
const towerd = spawn(prefix[0]!, [...prefix.slice(1), process.execPath, TOWERD, '--log-level', 'warn'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
teardown = async () => {
  towerd.kill('SIGTERM');
  await new Promise((r) => (towerd.exitCode !== null ? r(null) : towerd.once('exit', r)));
  await lab.down();
  process.stdout.write('lab torn down\n');
};

try {
  say('towerd started in the thin-client namespace');
  await waitForSocket(socket);
  const towerctl = (args: string[]) =>
    new Promise<number>((resolve) => {
      process.stdout.write(`$ towerctl ${args.join(' ')}\n`);
      spawn(process.execPath, [TOWERCTL, ...args], { env, stdio: 'inherit' }).once('exit', (c) => resolve(c ?? 1));
    });
  await towerctl(['status']);
  say('a command on a host, over SSH with the pinned host key (no prompt, no trust on first use)');
  const target = lab.hosts.find((h) => h.role === 'offline') ?? lab.hosts[0]!;
  const argv = ['ssh', '-F', join(home, '.ssh', 'config'), '-o', 'BatchMode=yes', target.name, 'echo "hello from $(hostname)"; id -un; uname -sr'];
  process.stdout.write(`$ ${argv.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
  const r = await lab.execTc(argv, { env });
  process.stdout.write(r.stdout + r.stderr);
  if (r.code !== 0) throw new Error(`ssh to ${target.name} failed with ${r.code}`);
  if (values.keep) {
    say('the lab stays up until Ctrl-C; try, in another terminal:');
    process.stdout.write(`  TOWER_SOCKET=${socket} node ${TOWERCTL} watch\n  nsenter --net=/run/netns/${lab.tcNetns} ssh -F ${home}/.ssh/config ${target.name}\n`);
    await new Promise(() => undefined);
  }
} catch (err) {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  say('tearing down');
  await teardown();
}
