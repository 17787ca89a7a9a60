import { describe, expect, it } from 'vitest';
import { ChunkedCounter, HeadReader, HttpError, bodyLength, parseHead, parseRequestLine, parseStatusLine, tokens } from '../../daemon/features/packages/relay/http.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const REQ = 'GET http://repo.test/a HTTP/1.1\r\nHost: repo.test\r\nUser-Agent: apk\r\n\r\n';

/** Feed `text` to a fresh reader in the given pieces; the first complete head and what followed it. */
function readIn(pieces: string[], max?: number): { head: string; rest: string } | null {
  const r = new HeadReader(max);
  for (const [i, p] of pieces.entries()) {
    const got = r.push(b(p));
    if (got) return { head: got.head.toString('latin1'), rest: got.rest.toString('latin1') + pieces.slice(i + 1).join('') };
  }
  return null;
}

describe('relay: request heads', () => {
  it('finds the end of a head at every possible split, byte by byte too', () => {
    const text = REQ + 'GET http://repo.test/b HTTP/1.1\r\n\r\n';
    for (let i = 1; i < text.length; i++) {
      for (let j = i; j < text.length; j += 7) {
        const got = readIn([text.slice(0, i), text.slice(i, j), text.slice(j)].filter(Boolean));
        expect(got, `split at ${i}/${j}`).toEqual({ head: REQ, rest: 'GET http://repo.test/b HTTP/1.1\r\n\r\n' });
      }
    }
    expect(readIn([...text])).toEqual({ head: REQ, rest: 'GET http://repo.test/b HTTP/1.1\r\n\r\n' });
  });

  it('accepts bare LF line ends and skips empty lines before the request line', () => {
    expect(readIn(['\r\n\r\nGET http://x/ HTTP/1.1\nHost: x\n\nrest'])).toEqual({ head: 'GET http://x/ HTTP/1.1\nHost: x\n\n', rest: 'rest' });
    expect(readIn(['\r\n', '\n', 'GET http://x/ HTTP/1.1\n', '\r\n'])).toEqual({ head: 'GET http://x/ HTTP/1.1\n\r\n', rest: '' });
  });

  it('does not take a lone CRLF inside a line, or CR CR, for the end', () => {
    expect(readIn(['GET http://x/ HTTP/1.1\r\nA: 1\r\r\n'])).toBeNull();
    expect(readIn(['GET http://x/ HTTP/1.1\r\nA: 1\r\n', 'B: 2\r\n'])).toBeNull();
  });

  it('refuses a head larger than the limit with 431, whole or in pieces, and accepts one just under it', () => {
    const big = 'GET http://x/ HTTP/1.1\r\nX: ' + 'a'.repeat(100) + '\r\n\r\n';
    expect(() => readIn([big], big.length - 1)).toThrow(HttpError);
    try {
      readIn([...big], 50);
    } catch (e) {
      expect(e).toBeInstanceOf(HttpError);
      expect((e as HttpError).status).toBe(431);
    }
    expect(readIn([big], big.length)?.head).toBe(big);
    // never ending: refused once the limit is passed, not buffered without end
    const r = new HeadReader(1000);
    expect(() => {
      for (let i = 0; i < 200; i++) r.push(b('X: yyyyyyy\r\n'));
    }).toThrow(/larger than 1000 bytes/);
  });

  it('parses the request line and fields; malformed ones are 400', () => {
    const h = parseHead(b(REQ));
    expect(h).toEqual({ start: 'GET http://repo.test/a HTTP/1.1', fields: [['host', 'repo.test'], ['user-agent', 'apk']] });
    expect(parseRequestLine(h.start)).toEqual({ method: 'GET', target: 'http://repo.test/a', minor: 1 });
    expect(parseRequestLine('HEAD http://x/ HTTP/1.0')).toEqual({ method: 'HEAD', target: 'http://x/', minor: 0 });
    for (const line of ['GET  http://x/ HTTP/1.1', 'GET http://x/ HTTP/2.0', 'GET http://x/', 'G\u00e9T http://x/ HTTP/1.1', 'GET http://x/ HTTP/1.1 extra', 'GET http://x/\tHTTP/1.1'])
      expect(() => parseRequestLine(line), line).toThrow(expect.objectContaining({ status: 400 }) as Error);
    for (const head of ['GET / HTTP/1.1\r\n folded\r\n\r\n', 'GET / HTTP/1.1\r\nno colon\r\n\r\n', 'GET / HTTP/1.1\r\nbad name: 1\r\n\r\n', 'GET / HTTP/1.1\r\nA: nul\0\r\n\r\n', '\r\n\r\n'])
      expect(() => parseHead(b(head)), JSON.stringify(head)).toThrow(expect.objectContaining({ status: 400 }) as Error);
  });

  it('reads status lines, connection tokens and body lengths', () => {
    expect(parseStatusLine('HTTP/1.1 200 OK')).toEqual({ minor: 1, status: 200, reason: 'OK' });
    expect(parseStatusLine('HTTP/1.0 404')).toEqual({ minor: 0, status: 404, reason: '' });
    expect(() => parseStatusLine('SSH-2.0-OpenSSH')).toThrow(expect.objectContaining({ status: 502 }) as Error);
    const f: [string, string][] = [['connection', 'Keep-Alive, X-Foo'], ['connection', 'close']];
    expect(tokens(f, 'connection')).toEqual(['keep-alive', 'x-foo', 'close']);
    expect(bodyLength([], 502)).toBeNull();
    expect(bodyLength([['content-length', '42']], 502)).toBe(42);
    expect(bodyLength([['content-length', '42, 42']], 502)).toBe(42);
    expect(bodyLength([['transfer-encoding', 'gzip, chunked'], ['content-length', '5']], 502)).toBe('chunked');
    expect(bodyLength([['transfer-encoding', 'gzip']], 502)).toBe('close');
    // a Transfer-Encoding naming no coding is not the same as none
    for (const v of [',', '', ' , ,']) expect(() => bodyLength([['transfer-encoding', v], ['content-length', '5']], 502), JSON.stringify(v)).toThrow(expect.objectContaining({ status: 502, message: 'a Transfer-Encoding without a coding' }) as Error);
    for (const v of ['-1', '1e3', '42, 43', '', '99999999999999999'])
      expect(() => bodyLength([['content-length', v]], 400), v).toThrow(expect.objectContaining({ status: 400 }) as Error);
  });
});

describe('relay: chunked bodies', () => {
  const body = '5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n';

  it('counts payload bytes and finds the end at any split', () => {
    for (let i = 0; i <= body.length; i++) {
      const c = new ChunkedCounter();
      const used = c.feed(b(body.slice(0, i) + '')) + c.feed(b(body.slice(i) + 'NEXT'));
      expect(used, `split at ${i}`).toBe(body.length);
      expect(c.done).toBe(true);
      expect(c.payload).toBe(16);
    }
  });

  it('ends without trailers too, and stops at the end of the body', () => {
    const c = new ChunkedCounter();
    expect(c.feed(b('3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200'))).toBe(13);
    expect(c.done).toBe(true);
    expect(c.payload).toBe(3);
  });

  it('refuses malformed framing with 502', () => {
    for (const bad of ['x\r\n', '3\r\nabcd\r\n', '3\nabc', '\r\n', '1234567890abc\r\n', '0\r\nT: 1\n\r\n'])
      expect(() => new ChunkedCounter().feed(b(bad)), JSON.stringify(bad)).toThrow(expect.objectContaining({ status: 502 }) as Error);
  });
});
