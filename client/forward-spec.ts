import type { Endpoint } from '../protocol/index.js';
import { UsageError } from './context.js';

/**
 * OpenSSH's -L/-R syntax: `[bind:]port:host:hostport`, `[bind:]port:socket`, `socket:host:hostport`,
 * `socket:socket`. Paths start with `/`; IPv6 addresses go in brackets. A missing bind address means 127.0.0.1.
 */
export function parseForwardSpec(spec: string): { listen: Endpoint; connect: Endpoint } {
  const parts = splitSpec(spec);
  const isPath = (s: string | undefined) => s !== undefined && s.startsWith('/');
  const port = (s: string | undefined, what: string): number => {
    const n = Number(s);
    if (!s || !/^\d+$/.test(s) || n > 65535) throw new UsageError(`bad ${what} port ${JSON.stringify(s ?? '')} in ${spec}`);
    return n;
  };
  let listen: Endpoint;
  let rest: string[];
  if (isPath(parts[0])) {
    listen = { unix: parts[0]! };
    rest = parts.slice(1);
  } else if (parts.length >= 2 && /^\d+$/.test(parts[0]!) && (parts.length === 2 ? isPath(parts[1]) : parts.length === 3)) {
    listen = { tcp: { host: '127.0.0.1', port: port(parts[0], 'listen') } };
    rest = parts.slice(1);
  } else {
    listen = { tcp: { host: parts[0]!, port: port(parts[1], 'listen') } };
    rest = parts.slice(2);
  }
  let connect: Endpoint;
  if (rest.length === 1 && isPath(rest[0])) connect = { unix: rest[0]! };
  else if (rest.length === 2) connect = { tcp: { host: rest[0]!, port: port(rest[1], 'target') } };
  else throw new UsageError(`cannot read forward ${JSON.stringify(spec)}: use [bind:]port:host:hostport, [bind:]port:/socket, /socket:host:hostport or /socket:/socket`);
  return { listen, connect };
}

function splitSpec(spec: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= spec.length) {
    if (spec[i] === '[') {
      const end = spec.indexOf(']', i);
      if (end < 0) throw new UsageError(`unclosed [ in ${spec}`);
      out.push(spec.slice(i + 1, end));
      i = end + 2;
      continue;
    }
    const next = spec.indexOf(':', i);
    if (next < 0) {
      out.push(spec.slice(i));
      break;
    }
    out.push(spec.slice(i, next));
    i = next + 1;
  }
  return out;
}

export function endpointText(e: Endpoint): string {
  return 'tcp' in e ? `${e.tcp.host.includes(':') ? `[${e.tcp.host}]` : e.tcp.host}:${e.tcp.port}` : e.unix;
}
