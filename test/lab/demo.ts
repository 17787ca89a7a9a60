// `npm run demo`: a TowerOS lab of real hosts, towerd in the thin-client namespace, towerctl against it.
// Everything is torn down on exit, Ctrl-C included. `--keep` waits for Ctrl-C before tearing down, so the lab
// can be explored from another terminal with the commands it prints.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TOWERCTL, TOWERD, towerdNodeFlags, waitForSocket } from '../helpers/towerd.js';
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
const towerd = spawn(prefix[0]!, [...prefix.slice(1), process.execPath, ...towerdNodeFlags(), TOWERD, '--log-level', 'warn'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
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
  // one supervised SSH connection per host, host keys checked against the pinned known_hosts (no TOFU)
  const deadline = Date.now() + 10_000;
  const allOnline = async () => {
    const r = await new Promise<string>((resolve) => {
      const p = spawn(process.execPath, [TOWERCTL, 'status', '--json'], { env });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.once('exit', () => resolve(out));
    });
    return (JSON.parse(r) as { hosts: { state: string }[] }).hosts.every((h) => h.state === 'online');
  };
  while (!(await allOnline()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await towerctl(['status']);
  const target = lab.hosts.find((h) => h.role === 'offline') ?? lab.hosts[0]!;
  say(`a command on ${target.name}, through towerd's connection (every argument quoted for the host's shell)`);
  const code = await towerctl(['exec', target.name, '--', 'sh', '-c', 'echo "hello from $(hostname) as $(id -un): $1"', 'sh', "it's $HOME; not expanded here"]);
  if (code !== 0) throw new Error(`towerctl exec on ${target.name} failed with ${code}`);
  say(`unplugging ${target.name}'s cable: towerd notices within 2 s, and reconnects when it is back`);
  const t1 = Date.now();
  await lab.cut(target.name);
  await new Promise((r) => setTimeout(r, 1900));
  await towerctl(['host', 'show', target.name]);
  await lab.restore(target.name);
  const back = Date.now() + 5000;
  while (!(await allOnline()) && Date.now() < back) await new Promise((r) => setTimeout(r, 100));
  await towerctl(['status']);
  process.stdout.write(`(cut and restored within ${Date.now() - t1} ms)\n`);
  if (values.keep) {
    say('the lab stays up until Ctrl-C; try, in another terminal:');
    process.stdout.write(`  TOWER_SOCKET=${socket} node ${TOWERCTL} watch\n  TOWER_SOCKET=${socket} node ${TOWERCTL} ssh ${target.name}\n  TOWER_SOCKET=${socket} node ${TOWERCTL} bar\n`);
    await new Promise(() => undefined);
  }
} catch (err) {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  say('tearing down');
  await teardown();
}
