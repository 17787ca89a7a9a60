import { connect as tcpConnect } from 'node:net';
import ssh2 from 'ssh2';
import { checkHostKey, noPinnedKey, pinnedKeys } from '../../core/ssh/hostkey.js';

const { Client } = ssh2;

export interface ProveTarget {
  name: string;
  ip: string;
  port: number;
  user: string;
  knownHostsPath: string;
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
}

/**
 * A fresh SSH connection to the host that authenticates with `privateKey` and nothing else (publickey only, no
 * agent), checking the host key against the pinned ones exactly as the supervised connection does. Resolves once
 * the host accepted the key; rejects with what went wrong. The connection is closed at once.
 */
export async function proveKey(t: ProveTarget, privateKey: string): Promise<void> {
  const pinned = await pinnedKeys(t.knownHostsPath, t.ip, t.name, t.port);
  if (pinned.trusted.size === 0) throw new Error(noPinnedKey(pinned));
  const sock = await new Promise<import('node:net').Socket>((resolve, reject) => {
    const s = tcpConnect({ host: t.ip, port: t.port, noDelay: true });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no TCP answer from ${t.ip}:${t.port} within ${t.connectTimeoutMs} ms`));
    }, t.connectTimeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot connect to ${t.ip}:${t.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
  });
  await new Promise<void>((resolve, reject) => {
    const client = new Client();
    let hostKeyProblem: string | undefined;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      client.end();
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    client.once('ready', () => finish());
    client.on('error', (err: Error & { level?: string }) => {
      if (hostKeyProblem) return finish(new Error(hostKeyProblem));
      if (err.level === 'client-authentication') return finish(new Error(`the host refused the new key for user ${t.user}`));
      finish(new Error(err.level === 'client-timeout' ? `SSH handshake did not finish within ${t.handshakeTimeoutMs} ms` : err.message));
    });
    client.once('close', () => finish(new Error(hostKeyProblem ?? 'the connection closed before the host accepted the key')));
    client.connect({
      sock,
      username: t.user,
      privateKey,
      authHandler: ['publickey'],
      agent: undefined,
      readyTimeout: t.handshakeTimeoutMs,
      keepaliveInterval: 0,
      hostVerifier: (blob: Buffer) => {
        const verdict = checkHostKey(pinned, blob);
        if (!verdict.ok) hostKeyProblem = verdict.reason;
        return verdict.ok;
      },
    });
  });
}
