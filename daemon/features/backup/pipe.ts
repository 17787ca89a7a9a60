import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { ClientChannel } from 'ssh2';
import type { ForwardInfo } from '../../../protocol/index.js';
import type { Core } from '../../core/feature.js';
import { runCaptured } from '../../core/exec/run.js';
import { SftpJail } from './sftpjail.js';

/** The repository folder on the storage host, prepared: made if missing (0700), its physical absolute path. */
export async function prepareFolder(core: Core, storage: string, folder: string, timeoutMs: number): Promise<string> {
  const s = core.connected(storage);
  const r = await runCaptured(s, ['sh', '-c', 'cd || exit 90; umask 077; mkdir -p -- "$1" && cd -- "$1" && chmod 700 . && pwd -P', 'sh', folder], timeoutMs);
  const path = r.stdout.trim();
  if (r.code !== 0 || !/^\/[^\0\n]*$/.test(path) || path.length > 4096)
    throw new Error(`cannot prepare the repository folder ${folder} on ${storage}: ${r.stderr || `exit ${r.code ?? 'unknown'}`}`);
  if (path === '/') throw new Error(`the repository folder ${folder} on ${storage} is the root folder`);
  return path;
}

/** restic 0.14 opens a second sftp session beside the first now and then; more than this at once is not restic */
const MAX_OPEN = 4;

export interface Pipe {
  /** the port on the source host's 127.0.0.1 that leads to the storage host's sftp-server */
  readonly port: number;
  /** bytes source → storage, storage → source, sftp requests refused */
  counts(): { up: number; down: number; refused: number; connections: number };
  close(): Promise<void>;
}

/**
 * A way from the source host to the storage host's `sftp` subsystem that only towerd joins: a remote forward on the
 * source host's 127.0.0.1 (random port) to a Unix socket in towerd's private runtime folder; each connection there
 * gets its own sftp channel on the storage host's supervised connection, with every request checked against the
 * repository folder (sftpjail.ts). At most `maxConnections` connections are taken over the pipe's life, MAX_OPEN at
 * a time: restic's of this run (the listener exists only while the run does).
 */
export async function openPipe(core: Core, p: { source: string; storage: string; root: string; maxConnections: number; readyMs: number }): Promise<Pipe> {
  const sock = join(core.runtimeDir, `backup-${randomBytes(6).toString('hex')}.sock`);
  const live = new Set<Socket | ClientChannel>();
  let up = 0;
  let down = 0;
  let refused = 0;
  let taken = 0;
  let open = 0;
  const log = core.log.child({ host: p.source });
  // a cut cable leaves channels that never close by themselves: when either host's connection goes, so does the pipe
  const sessions = [p.source, p.storage].map((n) => core.supervisor?.get(n)).filter((x) => x !== undefined);
  const onState = (st: { state: string }) => {
    if (st.state === 'online') return;
    for (const x of live) x.destroy();
  };
  for (const x of sessions) x.on('state', onState);
  const server: Server = createServer((c) => {
    if (taken >= p.maxConnections || open >= MAX_OPEN) {
      log.warn({ storage: p.storage, taken, open }, 'backup pipe: an extra connection was refused');
      return void c.destroy();
    }
    taken++;
    open++;
    live.add(c);
    c.once('close', () => {
      open--;
      live.delete(c);
    });
    c.on('error', () => undefined);
    let dst;
    try {
      dst = core.connected(p.storage);
    } catch {
      return void c.destroy();
    }
    const session = dst;
    const client = session.connection;
    if (!client) return void c.destroy();
    void session
      .withSessionSlot(
        () =>
          new Promise<void>((release) => {
            try {
              client.subsys('sftp', (err, ch) => {
                if (err || c.destroyed) {
                  if (err) log.warn({ storage: p.storage, err: err.message }, 'backup pipe: no sftp subsystem on the storage host');
                  ch?.close();
                  c.destroy();
                  return release();
                }
                session.trackChannel(ch);
                live.add(ch);
                const jail = new SftpJail(p.root, (b) => c.write(b));
                const finish = () => {
                  live.delete(ch);
                  refused += jail.stats.denied;
                  if (jail.stats.denied) log.warn({ storage: p.storage, refused: Object.fromEntries(jail.stats.deniedTypes) }, 'backup pipe: sftp requests outside the repository were refused');
                  c.destroy();
                  ch.close();
                  release();
                };
                c.on('data', (b: Buffer) => (up += b.length));
                ch.on('data', (b: Buffer) => (down += b.length));
                c.pipe(jail).pipe(ch);
                ch.pipe(c);
                jail.once('error', (e) => {
                  log.warn({ storage: p.storage, err: e.message }, 'backup pipe: sftp stream refused');
                  finish();
                });
                ch.once('close', finish);
                c.once('close', finish);
                ch.stderr?.resume();
              });
            } catch {
              c.destroy();
              release();
            }
          }),
      )
      .catch(() => c.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(sock, () => resolve());
  });
  let info: ForwardInfo | undefined;
  let closeServer = () =>
    new Promise<void>((r) => {
      for (const x of sessions) x.off('state', onState);
      for (const s of live) s.destroy();
      server.close(() => r());
    });
  try {
    let timer: NodeJS.Timeout | undefined;
    let settle: { resolve(n: number): void; reject(e: Error): void } | undefined;
    const ready = new Promise<number>((resolve, reject) => {
      settle = { resolve, reject };
      timer = setTimeout(() => reject(new Error(`${p.source} did not open the backup listener on 127.0.0.1 in ${p.readyMs} ms`)), p.readyMs);
    });
    const check = (i: ForwardInfo) => {
      if (i.state === 'active' && 'tcp' in i.listen && i.listen.tcp.port > 0) settle?.resolve(i.listen.tcp.port);
    };
    info = await core.forwards.open(
      { host: p.source, direction: 'remote', listen: { tcp: { host: '127.0.0.1', port: 0 } }, connect: { unix: sock } },
      { changed: check, closed: () => settle?.reject(new Error('the backup listener was closed')) },
    );
    check(core.forwards.list(p.source).find((f) => f.id === info!.id) ?? info);
    const port = await ready.finally(() => clearTimeout(timer));
    const id = info.id;
    const stop = closeServer;
    closeServer = async () => {
      await core.forwards.close(id).catch(() => undefined);
      await stop();
    };
    return { port, counts: () => ({ up, down, refused, connections: taken }), close: () => closeServer() };
  } catch (err) {
    if (info) await core.forwards.close(info.id).catch(() => undefined);
    await closeServer();
    throw err;
  }
}
