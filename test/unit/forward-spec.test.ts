import { describe, expect, it } from 'vitest';
import { parseForwardSpec } from '../../client/forward-spec.js';

describe('forward specs (OpenSSH -L/-R syntax)', () => {
  it.each([
    ['8080:127.0.0.1:80', { tcp: { host: '127.0.0.1', port: 8080 } }, { tcp: { host: '127.0.0.1', port: 80 } }],
    ['localhost:0:db:5432', { tcp: { host: 'localhost', port: 0 } }, { tcp: { host: 'db', port: 5432 } }],
    ['[::1]:9000:[::1]:22', { tcp: { host: '::1', port: 9000 } }, { tcp: { host: '::1', port: 22 } }],
    ['4713:/run/pulse/native', { tcp: { host: '127.0.0.1', port: 4713 } }, { unix: '/run/pulse/native' }],
    ['/tmp/x.sock:web:80', { unix: '/tmp/x.sock' }, { tcp: { host: 'web', port: 80 } }],
    ['/tmp/a.sock:/tmp/b.sock', { unix: '/tmp/a.sock' }, { unix: '/tmp/b.sock' }],
  ])('%s', (spec, listen, connect) => {
    expect(parseForwardSpec(spec)).toEqual({ listen, connect });
  });

  it.each(['80', 'x:y', '70000:h:1', '8080:h:port', '[::1:80:h:1', 'a:b:c:d:e'])('refuses %s', (spec) => {
    expect(() => parseForwardSpec(spec)).toThrow();
  });
});
