import { describe, expect, it } from 'vitest';
import { clientHello } from '../helpers/tls.js';
import { MAX_CLIENT_HELLO, MAX_CLIENT_HELLO_WIRE, TlsError, readClientHello } from '../../daemon/features/packages/relay/tls.js';

const record = (type: number, body: Buffer) => Buffer.concat([Buffer.from([type, 3, 1, body.length >> 8, body.length & 255]), body]);
const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);
const vec16 = (b: Buffer) => Buffer.concat([u16(b.length), b]);

/** A ClientHello built by hand: `exts` are [type, body] pairs. */
function hello(exts: [number, Buffer][], opts: { session?: number; suites?: Buffer; tail?: Buffer } = {}): Buffer {
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7),
    Buffer.from([opts.session ?? 0]),
    Buffer.alloc(Math.min(opts.session ?? 0, 32)),
    opts.suites ?? vec16(Buffer.from([0x13, 0x01])),
    Buffer.from([1, 0]),
    vec16(Buffer.concat(exts.map(([t, b]) => Buffer.concat([u16(t), vec16(b)])))),
    opts.tail ?? Buffer.alloc(0),
  ]);
  const msg = Buffer.concat([Buffer.from([1, body.length >> 16, (body.length >> 8) & 255, body.length & 255]), body]);
  return record(22, msg);
}
const sni = (...names: [number, string][]) => vec16(Buffer.concat(names.map(([t, n]) => Buffer.concat([Buffer.from([t]), vec16(Buffer.from(n, 'latin1'))]))));

/** The reason of the TlsError `fn` throws (anything else thrown fails the test). */
function reason(data: Buffer): string {
  try {
    readClientHello(data);
  } catch (err) {
    expect(err).toBeInstanceOf(TlsError);
    return (err as Error).message;
  }
  return 'no error';
}

describe('relay: the server name of a TLS ClientHello', () => {
  it('reads the name Node’s TLS client sends, lower-cased, and null when it sends none', async () => {
    expect(readClientHello(await clientHello('Repo.Test'))).toEqual({ complete: true, serverName: 'repo.test' });
    expect(readClientHello(await clientHello('dl-cdn.alpinelinux.org'))).toEqual({ complete: true, serverName: 'dl-cdn.alpinelinux.org' });
    expect(readClientHello(await clientHello(''))).toEqual({ complete: true, serverName: null });
  });

  it('waits for more at every cut of the first flight, and for a message spread over several records', async () => {
    const h = await clientHello('repo.test');
    for (let i = 0; i < h.length; i++) expect(readClientHello(h.subarray(0, i)), `cut at ${i}`).toEqual({ complete: false });
    // the same handshake message in records of 1, 100 and the rest
    const msg = h.subarray(5);
    const split = Buffer.concat([record(22, msg.subarray(0, 1)), record(22, msg.subarray(1, 101)), record(22, msg.subarray(101))]);
    for (let i = 0; i < split.length; i++) expect(readClientHello(split.subarray(0, i))).toEqual({ complete: false });
    expect(readClientHello(split)).toEqual({ complete: true, serverName: 'repo.test' });
    // what follows the ClientHello's records (early data) is not looked at
    expect(readClientHello(Buffer.concat([h, record(23, Buffer.alloc(50))]))).toEqual({ complete: true, serverName: 'repo.test' });
  });

  it('refuses what is not a ClientHello, with the reason', async () => {
    expect(reason(Buffer.from('POST /upload HTTP/1.1\r\nHost: other.test\r\n\r\n'))).toBe('not a TLS handshake (the tunnel must start with a ClientHello)');
    expect(reason(Buffer.from([22, 2, 0, 0, 5, 1, 0, 0, 1, 0]))).toBe('not a TLS record (version 2.0)');
    expect(reason(Buffer.from([22, 3, 1, 0, 0]))).toBe('a TLS record of 0 bytes');
    expect(reason(Buffer.from([22, 3, 1, 0x40, 1]))).toBe('a TLS record of 16385 bytes');
    expect(reason(record(22, Buffer.from([2, 0, 0, 40])))).toBe('the first TLS handshake message is not a ClientHello (type 2)');
    const h = await clientHello('repo.test');
    expect(reason(Buffer.concat([record(22, h.subarray(5, 20)), record(23, Buffer.alloc(10))]))).toBe('a ClientHello interrupted by another kind of TLS record');
  });

  it('refuses a ClientHello over its bound as soon as its length is known, and endless tiny records', () => {
    const n = MAX_CLIENT_HELLO;
    expect(reason(Buffer.from([22, 3, 1, 0x40, 0, 1, n >> 16, (n >> 8) & 255, n & 255]))).toBe(`a ClientHello of ${n} bytes, over the limit of ${n - 4}`);
    // a message of 10000 bytes in one-byte records takes 60024 bytes on the wire: waited for; one of 16000 is not
    const tiny = (len: number) => {
      const msg = Buffer.concat([Buffer.from([1, 0, len >> 8, len & 255]), Buffer.alloc(len)]);
      return Buffer.concat([...msg].map((b) => record(22, Buffer.from([b]))));
    };
    expect(readClientHello(tiny(10_000).subarray(0, 60_000))).toEqual({ complete: false });
    expect(reason(tiny(16_000).subarray(0, MAX_CLIENT_HELLO_WIRE))).toBe(`no complete ClientHello in the first ${MAX_CLIENT_HELLO_WIRE} bytes`);
  });

  it('checks every length against what holds it', () => {
    expect(readClientHello(hello([[0, sni([0, 'repo.test'])]]))).toEqual({ complete: true, serverName: 'repo.test' });
    expect(readClientHello(hello([[0x2b, Buffer.from([2, 3, 4])]]))).toEqual({ complete: true, serverName: null });
    expect(reason(hello([], { session: 33 }))).toBe('a malformed ClientHello: a session id of 33 bytes');
    expect(reason(hello([], { suites: vec16(Buffer.from([0x13])) }))).toBe('a malformed ClientHello: cipher suites of 1 bytes');
    expect(reason(hello([], { suites: u16(0xfff0) }))).toBe('a malformed ClientHello: the ClientHello is cut short');
    expect(reason(hello([[0, sni([0, 'repo.test'])]], { tail: Buffer.from([0]) }))).toBe('a malformed ClientHello: 1 bytes left over in the ClientHello');
    // an extension longer than the extensions, a name longer than its list
    const long = hello([[0, sni([0, 'repo.test'])]]);
    const bad = Buffer.from(long);
    bad.writeUInt16BE(0x100, bad.length - sni([0, 'repo.test']).length - 2);
    expect(reason(bad)).toBe('a malformed ClientHello: the extensions is cut short');
    expect(reason(hello([[0, Buffer.concat([u16(20), Buffer.from([0]), u16(9), Buffer.from('repo.test')])]]))).toBe('a malformed ClientHello: extension 0 is cut short');
    expect(reason(hello([[0, Buffer.concat([u16(12), Buffer.from([0]), u16(20), Buffer.from('repo.test')])]]))).toBe('a malformed ClientHello: the server name list is cut short');
  });

  it('refuses a second name, a second server_name, a name that is not a host name, and an encrypted ClientHello', () => {
    expect(reason(hello([[0, sni([0, 'repo.test'], [0, 'other.test'])]]))).toBe('a malformed ClientHello: two host names in its server_name');
    expect(reason(hello([[0, sni([0, 'repo.test'])], [0, sni([0, 'other.test'])]]))).toBe('a malformed ClientHello: extension 0 appears twice');
    for (const name of ['repo.test.', 'repo..test', '-repo.test', 'repo test', 'repo.test\0.other', '', '192.168.3.1:443', 'a'.repeat(254)])
      expect(reason(hello([[0, sni([0, name])]])), JSON.stringify(name)).toBe('a malformed ClientHello: its server name is not a DNS host name');
    expect(reason(hello([[0, sni([1, 'x'])]]))).toBe('a malformed ClientHello: a server_name extension without a host name');
    expect(reason(hello([[0, sni([0, 'repo.test'])], [0xfe0d, Buffer.alloc(20)]]))).toBe('an encrypted ClientHello (ECH) hides the server name');
  });

  it('never throws anything but a TlsError, whatever the bytes (mutations of a real ClientHello)', async () => {
    const h = await clientHello('repo.test');
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 5000; i++) {
      const m = Buffer.from(h);
      for (let k = 0; k < 1 + (rand() % 4); k++) m[rand() % m.length] = rand() & 255;
      const cut = m.subarray(0, rand() % (m.length + 1));
      try {
        const r = readClientHello(cut);
        if (r.complete && r.serverName !== null) expect(r.serverName).toMatch(/^[a-z0-9.-]+$/);
      } catch (err) {
        expect(err).toBeInstanceOf(TlsError);
      }
    }
  });
});
