import { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';

/** The first flight of Node's own TLS client, a real ClientHello (`servername: ''`: no SNI). */
export function clientHello(servername: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const sink = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        resolve(Buffer.from(chunk));
        cb();
      },
    });
    const t = tlsConnect({ socket: sink, servername });
    t.on('error', () => undefined);
    setImmediate(() => t.destroy());
  });
}
