import { chmod } from 'node:fs/promises';
import type { Server } from 'node:net';

/**
 * Listen on a Unix socket that only its owner can connect to. The umask is narrowed for the synchronous bind alone
 * (it is process-wide: held across an await it would apply to every file created meanwhile), and the mode is set
 * again afterwards in case the socket was created under another umask.
 */
export async function listenPrivate(server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => reject(err);
    server.once('error', failed);
    const old = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off('error', failed);
        resolve();
      });
    } finally {
      process.umask(old);
    }
  });
  await chmod(path, 0o600);
}
