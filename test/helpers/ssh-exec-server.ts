import type { AddressInfo } from 'node:net';
import ssh2, { type ServerChannel } from 'ssh2';

const { Server, utils } = ssh2;

/**
 * A real ssh2 server on 127.0.0.1 that accepts any client and hands every exec channel to `onExec`; resolves with
 * its port. `closers` gets what ends it.
 */
export function sshExecServer(onExec: (accept: () => ServerChannel) => void, closers: (() => void)[]): Promise<number> {
  const server = new Server({ hostKeys: [utils.generateKeyPairSync('ed25519').private] }, (conn) => {
    conn.on('error', () => undefined);
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('ready', () => {
      conn.on('session', (accept) => {
        accept().on('exec', (acceptExec) => onExec(acceptExec));
      });
    });
  });
  closers.push(() => server.close());
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}
