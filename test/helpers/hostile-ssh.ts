// A hostile host for tests: an ssh2 server with a lab host's own host key that accepts towerd's key and, for a
// command containing `flood`, writes odd-sized CHANNEL_DATA packets straight through its protocol object, ignoring
// the window towerd granted. Every other command exits 0 with no output.
//
// Run inside a lab host's network namespace only:
//   nsenter --net=/proc/INIT/ns/net -- node --import tsx test/helpers/hostile-ssh.ts --key FILE --listen IP [--mib N]
// Prints "listening" once it accepts connections, "flood N" when a flood starts; exits on SIGTERM or when stdin
// closes.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import ssh2, { type ServerChannel } from 'ssh2';

const { values } = parseArgs({ options: { key: { type: 'string' }, listen: { type: 'string' }, mib: { type: 'string', default: '64' } }, strict: true });
if (!values.key || !values.listen) {
  process.stderr.write('hostile-ssh: --key and --listen are required\n');
  process.exit(2);
}
const PACKET = 32_767;
const total = Number(values.mib) * 1024 * 1024;

interface Raw {
  _client: { _protocol: { channelData(id: number, d: Buffer): void } };
  outgoing: { id: number };
}

const server = new ssh2.Server({ hostKeys: [readFileSync(values.key)] }, (conn) => {
  conn.on('error', () => undefined);
  conn.on('authentication', (ctx) => ctx.accept());
  conn.on('ready', () => {
    conn.on('session', (accept) => {
      accept().on('exec', (acceptExec, _reject, info) => {
        const ch = acceptExec() as ServerChannel & Raw;
        if (!info.command.includes('flood')) {
          ch.exit(0);
          ch.end();
          return;
        }
        process.stdout.write(`flood ${info.command}\n`);
        const chunk = Buffer.alloc(PACKET, 0x79);
        let sent = 0;
        // in slices, so that the connection's socket is written as it goes instead of all at the end
        const slice = () => {
          try {
            for (let i = 0; i < 64 && sent < total; i++, sent += PACKET) ch._client._protocol.channelData(ch.outgoing.id, chunk);
          } catch {
            return; // towerd hung up: the protocol object is unusable from then on
          }
          if (sent < total) setImmediate(slice);
        };
        slice();
      });
    });
  });
});
server.listen(22, values.listen, () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
