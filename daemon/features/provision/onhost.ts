import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TargetInfo } from '../../../protocol/index.js';
import { TowerError } from '../../core/errors.js';
import { openChannel, runCaptured } from '../../core/exec/run.js';
import type { HostSession } from '../../core/ssh/session.js';
import { TargetRefusedError } from './target.js';

/**
 * Run on the host (busybox sh): the boot device named in $1, or (empty $1) the disk holding the first of the mount
 * points that follow, and what it is. One line: `ok block|file BYTES DEV`, `none`, `missing DEV`, `root DEV`.
 */
export const FIND_BOOT_DEVICE = `dev=$1; shift
if [ -z "$dev" ]; then
  src=
  for m in "$@"; do
    src=$(awk -v m="$m" '$2 == m { print $1; exit }' /proc/mounts)
    [ -n "$src" ] && break
  done
  [ -n "$src" ] || { echo none; exit 0; }
  part=\${src##*/}
  if [ -e "/sys/class/block/$part/partition" ]; then
    disk=$(readlink -f "/sys/class/block/$part"); disk=\${disk%/*}; dev=/dev/\${disk##*/}
  else
    dev=$src
  fi
fi
root=$(awk '$2 == "/" { print $1; exit }' /proc/mounts)
case "$root" in "$dev"|"$dev"[0-9]*|"$dev"p[0-9]*) echo "root $dev"; exit 0;; esac
if [ -b "$dev" ]; then
  n=\${dev##*/}; sectors=$(cat "/sys/class/block/$n/size" 2>/dev/null || echo 0); echo "ok block $((sectors * 512)) $dev"
elif [ -f "$dev" ]; then
  echo "ok file $(wc -c < "$dev") $dev"
else
  echo "missing $dev"
fi
`;

/** What FIND_BOOT_DEVICE said, or the refusal it means. */
export function parseBootDevice(host: string, out: string): { kind: 'block' | 'file'; bytes: number; path: string } {
  const line = out.split('\n')[0]!.trim().slice(0, 4200);
  let m = /^ok (block|file) (\d{1,16}) (\/\S{0,4095})$/.exec(line);
  if (m) return { kind: m[1] as 'block' | 'file', bytes: Number(m[2]), path: m[3]! };
  if (line === 'none') throw new TargetRefusedError(`cannot tell ${host}'s boot device: none of reprovision.bootMounts is mounted there; name it with --boot-device DEV`);
  m = /^root (\S+)$/.exec(line);
  if (m) throw new TargetRefusedError(`${m[1]} holds ${host}'s root file system, not only its boot partition: refused`);
  m = /^missing (\S+)$/.exec(line);
  if (m) throw new TargetRefusedError(`${m[1]} on ${host} is neither a block device nor a file`);
  throw new TargetRefusedError(`cannot tell ${host}'s boot device: unexpected answer ${JSON.stringify(line.slice(0, 200))}`);
}

/** The host's boot device, checked there, described as a target. */
export async function hostBootTarget(s: HostSession, device: string | undefined, bootMounts: string[], imageBytes: number | null): Promise<TargetInfo & { logicalBlockSize: number }> {
  const r = await runCaptured(s, ['sh', '-c', FIND_BOOT_DEVICE, 'sh', device ?? '', ...bootMounts], 20_000, 16_384);
  if (r.code !== 0) throw new TowerError('HostUnavailable', `cannot look for ${s.host.name}'s boot device: ${r.code === null ? 'no exit status' : r.stderr.trim().slice(0, 300) || `exit ${r.code}`}`);
  const dev = parseBootDevice(s.host.name, r.stdout);
  if (dev.kind === 'block' && imageBytes !== null && dev.bytes > 0 && dev.bytes < imageBytes)
    throw new TargetRefusedError(`the image (${imageBytes} bytes) is larger than ${dev.path} on ${s.host.name} (${dev.bytes} bytes)`);
  const name = dev.path.slice(dev.path.lastIndexOf('/') + 1);
  return {
    kind: 'host',
    path: dev.path,
    name,
    description: `${s.host.name}'s boot device (${dev.kind === 'block' ? 'block device' : 'file'}, ${dev.bytes} bytes), written over its connection`,
    sizeBytes: dev.bytes,
    removable: false,
    exists: true,
    fingerprint: `host:${s.host.name}:${dev.kind}:${dev.bytes}:${dev.path}`,
    logicalBlockSize: 512,
  };
}

/**
 * Stream a prepared image file through an exec channel into `dd of=DEV` under the host's privilege command, then
 * read it back there (`head -c | sha256sum`) and compare with what was sent.
 */
export async function writeToHost(
  s: HostSession,
  privilege: string[],
  file: string,
  bytes: number,
  dev: string,
  opts: { signal: AbortSignal; onProgress: (phase: 'upload' | 'verify', done: number) => void },
): Promise<{ sha256: string }> {
  const hash = createHash('sha256');
  let sent = 0;
  const { code, stderr } = await s.withSessionSlot(async () => {
    const ch = await openChannel(s, [...privilege, 'dd', `of=${dev}`, 'bs=4194304'], undefined);
    s.trackChannel(ch);
    let err = '';
    ch.stderr.on('data', (b: Buffer) => {
      if (err.length < 2000) err += b.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => {
      let c: number | null = null;
      ch.on('exit', (x: number | null) => (c = x));
      ch.on('close', () => resolve(c));
    });
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        sent += chunk.length;
        opts.onProgress('upload', sent);
        cb(null, chunk);
      },
    });
    // dd writes nothing on stdout; reading it lets the channel end
    ch.resume();
    try {
      await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), count, ch, { signal: opts.signal });
    } catch (e) {
      ch.close();
      throw opts.signal.aborted ? opts.signal.reason : e;
    }
    return { code: await exited, stderr: err };
  });
  if (code !== 0) throw new Error(`writing ${dev} on ${s.host.name} failed: ${code === null ? 'no exit status (connection lost?)' : `dd exited with ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n').pop()!.slice(0, 300)}` : ''}`);
  if (sent !== bytes) throw new Error(`sent ${sent} bytes to ${s.host.name}, the image has ${bytes}`);
  const sha256 = hash.digest('hex');
  const sync = await runCaptured(s, [...privilege, 'sync'], 120_000);
  if (sync.code !== 0) throw new Error(`sync on ${s.host.name} failed: ${sync.stderr.trim().slice(0, 300)}`);
  opts.onProgress('verify', 0);
  const back = await runCaptured(s, [...privilege, 'sh', '-c', 'head -c "$1" "$2" | sha256sum', 'sh', String(bytes), dev], 30 * 60_000, 4096);
  const got = /^([0-9a-f]{64})\b/.exec(back.stdout.trim())?.[1];
  if (back.code !== 0 || !got) throw new Error(`cannot read ${dev} back on ${s.host.name} to verify it: ${back.stderr.trim().slice(0, 300) || `exit ${back.code}`}`);
  if (got !== sha256) throw new Error(`verification failed: ${dev} on ${s.host.name} reads back differently from what was sent (SHA-256 ${got.slice(0, 16)}… ≠ ${sha256.slice(0, 16)}…)`);
  opts.onProgress('verify', bytes);
  return { sha256 };
}
