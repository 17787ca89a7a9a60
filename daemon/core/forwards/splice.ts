import type { Duplex } from 'node:stream';

/**
 * Join two streams both ways. Either side ending ends the other; either side failing or closing destroys both,
 * so no half-open socket or channel is left behind. `onClose` runs once.
 */
export function splice(local: Duplex, remote: Duplex, count: { toHost(n: number): void; fromHost(n: number): void }, onClose: () => void): void {
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    local.destroy();
    remote.destroy();
    onClose();
  };
  local.on('data', (b: Buffer) => count.toHost(b.length));
  remote.on('data', (b: Buffer) => count.fromHost(b.length));
  local.pipe(remote);
  remote.pipe(local);
  for (const s of [local, remote]) {
    s.once('error', finish);
    s.once('close', finish);
  }
}
