// A standalone ssh2 local forward, for the forward benchmark's "why" rows: the same library and the same forward
// path as towerd (forwardOut + daemon/core/forwards/splice.ts), but with a chosen cipher, or a patched copy of ssh2
// (window and packet size), and with ssh2's debug output to report what was negotiated.
//
// Run inside the lab's thin-client namespace only (bench/lab-ssh.ts does):
//   node --import tsx bench/lab-ssh2.ts --host IP --user U --key FILE --hostkey 'ssh-ed25519 AAAA…' --to PORT
//        [--cipher NAME] [--ssh2 DIR]
// Prints one JSON line {port, cipherCS, cipherSC, macCS, macSC, kex} once it listens on 127.0.0.1:port, forwards every
// connection to 127.0.0.1:PORT on the host, and exits when stdin closes, on SIGTERM, or after 10 minutes.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect as tcpConnect, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type * as Ssh2 from 'ssh2';
import { splice } from '../daemon/core/forwards/splice.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string', default: '22' },
    user: { type: 'string' },
    key: { type: 'string' },
    hostkey: { type: 'string' },
    to: { type: 'string' },
    cipher: { type: 'string' },
    ssh2: { type: 'string' },
  },
  strict: true,
});
const need = (k: keyof typeof values): string => {
  const v = values[k];
  if (typeof v !== 'string') {
    process.stderr.write(`lab-ssh2: --${k} is required\n`);
    process.exit(2);
  }
  return v;
};
const host = need('host');
const pinned = Buffer.from(need('hostkey').split(' ')[1] ?? '', 'base64');
const toPort = Number(need('to'));
// ssh2 from this checkout, or from DIR/node_modules/ssh2 (a patched copy; its dependencies come from NODE_PATH)
const base = values.ssh2 ? resolve(values.ssh2) : resolve(import.meta.dirname, '..');
const ssh2 = createRequire(join(base, 'noop.js'))('ssh2') as typeof Ssh2;

const negotiated: Record<string, string> = {};
const client = new ssh2.Client();
const bail = (msg: string) => {
  process.stderr.write(`lab-ssh2: ${msg}\n`);
  process.exit(1);
};
setTimeout(() => bail('lifetime of 10 minutes reached'), 600_000).unref();
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

client.on('error', (err) => bail(err.message));
client.on('close', () => bail('SSH connection closed'));
client.on('ready', () => {
  const server = createServer((sock) => {
    sock.on('error', () => undefined);
    client.forwardOut('127.0.0.1', 0, '127.0.0.1', toPort, (err, ch) => {
      if (err) return void sock.destroy();
      splice(sock, ch, { toHost: () => undefined, fromHost: () => undefined }, () => undefined);
    });
  });
  server.listen({ host: '127.0.0.1', port: 0 }, () => {
    const addr = server.address();
    process.stdout.write(`${JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0, ...negotiated })}\n`);
  });
});
// as towerd connects: its own TCP socket with Nagle off
const tcp = tcpConnect({ host, port: Number(values.port), noDelay: true });
tcp.once('error', (err) => bail(err.message));
client.connect({
  sock: tcp,
  username: need('user'),
  privateKey: readFileSync(need('key')),
  readyTimeout: 5000,
  keepaliveInterval: 0,
  ...(values.cipher ? { algorithms: { cipher: [values.cipher as Ssh2.CipherAlgorithm] } } : {}),
  hostVerifier: (key: Buffer) => key.equals(pinned),
  debug: (line: string) => {
    const m = /^Handshake: (C->S|S->C) (cipher|Cipher|MAC): (\S+)/.exec(line) ?? /^Handshake: (KEX) (algorithm): (\S+)/.exec(line);
    if (!m) return;
    const key = m[1] === 'KEX' ? 'kex' : `${m[2]!.toLowerCase() === 'mac' ? 'mac' : 'cipher'}${m[1] === 'C->S' ? 'CS' : 'SC'}`;
    negotiated[key] = m[3]!;
  },
});
