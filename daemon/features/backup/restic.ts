import * as z from 'zod/mini';
import { Snapshot, type BackupProgress } from '../../../protocol/backup.js';
import { openChannel } from '../../core/exec/run.js';
import { recordedExit } from '../../core/exec/stream.js';
import type { HostSession } from '../../core/ssh/session.js';

// restic on the source host, as its login user. The password arrives as the first line on stdin and lives only in
// the environment of the shell and its restic processes: never in a file, never in an argument.

/**
 * What joins restic's sftp.command to towerd's loopback listener when `backup.netcat` is "auto" and the host has
 * python3 (every TowerOS host does): a byte pipe with TCP_NODELAY and 256 KiB reads. sftp is request and reply;
 * busybox nc leaves Nagle on and reads in small pieces, which measured half the throughput (bench/lab-backup.ts).
 */
const PIPE_PY = `import os, socket, sys, threading
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
def up():
    try:
        while True:
            b = os.read(0, 262144)
            if not b:
                break
            s.sendall(b)
    finally:
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
threading.Thread(target=up, daemon=True).start()
while True:
    b = s.recv(262144)
    if not b:
        break
    v = memoryview(b)
    while v:
        v = v[os.write(1, v):]
`;

/**
 * The common head of every run. $1 repository, $2 restic, $3 netcat (`auto`: the pipe above, else busybox nc), $4
 * port; the rest belongs to the action.
 * `cd` first: relative paths are the login user's home's.
 */
const HEAD = `IFS= read -r RESTIC_PASSWORD || exit 97
export RESTIC_PASSWORD
RESTIC_REPOSITORY=$1; export RESTIC_REPOSITORY
R=$2; N=$3
if [ "$N" = auto ]; then
  N=nc
  if command -v python3 >/dev/null 2>&1 && D=$(mktemp -d); then
    trap 'rm -rf "$D"' EXIT
    trap 'rm -rf "$D"; exit 129' HUP INT TERM
    cat >"$D/pipe.py" <<'PY'
${PIPE_PY}PY
    N="python3 $D/pipe.py"
  fi
fi
O="sftp.command=$N 127.0.0.1 $4"; shift 4
RESTIC_PROGRESS_FPS=0.5; export RESTIC_PROGRESS_FPS
cd || exit 96
command -v "$R" >/dev/null 2>&1 || { echo "tower: $R is not installed (apk add restic)" >&2; exit 98; }
r() { "$R" -o "$O" "$@"; }
`;

/**
 * $1 tower's name of the host, $2 1 when the home is the only path, $3 1 when the repository is known to exist (each
 * restic process derives the key with scrypt, about half a second: none is started that is not needed); then restic
 * backup's arguments. A stale lock left by a cut run does not stop a backup (its locks are shared ones).
 */
const BACKUP = `${HEAD}T=$1; H=$2; I=$3; shift 3
[ "$H" = 1 ] && set -- "$@" "$HOME"
if [ "$I" != 1 ]; then r cat config >/dev/null 2>&1 || r init >&2 || exit 95; fi
r --json backup --host "$T" --exclude-caches "$@"; rc=$?
[ "$rc" = 0 ] || [ "$rc" = 3 ] || exit "$rc"
r --json snapshots || exit 92
exit "$rc"
`;

/** $1 percent of the data to read back */
const CHECK = `${HEAD}r unlock >&2 || exit 94
r check --read-data-subset="$1%"
`;

const SNAPSHOTS = `${HEAD}r --json snapshots
`;

/** $1 snapshot, $2 target folder, $3 1: in place (target /); then --include arguments */
const RESTORE = `${HEAD}S=$1; T=$2; P=$3; shift 3
if [ "$P" != 1 ]; then
  mkdir -p -- "$(dirname -- "$T")" && mkdir -m 700 -- "$T" || { echo "tower: $T exists already or cannot be made; restores go into a new folder" >&2; exit 93; }
fi
printf 'tower-target %s\\n' "$(cd -- "$T" && pwd -P)"
r restore "$S" --target "$T" "$@"
`;

export type Action = { kind: 'backup'; name: string; homeOnly: boolean; initialized: boolean; args: string[] } | { kind: 'check'; percent: number } | { kind: 'snapshots' } | { kind: 'restore'; snapshot: string; target: string; inPlace: boolean; includes: string[] };

/** connections an action may take through the pipe: restic processes it starts, each with up to 4 sftp sessions */
export function connectionsFor(a: Action): number {
  return 4 * (a.kind === 'backup' ? 5 : a.kind === 'check' ? 2 : 1);
}

export function argvFor(a: Action, common: { repo: string; restic: string; netcat: string; port: number }): string[] {
  const head = [common.repo, common.restic, common.netcat, String(common.port)];
  switch (a.kind) {
    case 'backup':
      return ['sh', '-c', BACKUP, 'sh', ...head, a.name, a.homeOnly ? '1' : '0', a.initialized ? '1' : '0', ...a.args];
    case 'check':
      return ['sh', '-c', CHECK, 'sh', ...head, String(a.percent)];
    case 'snapshots':
      return ['sh', '-c', SNAPSHOTS, 'sh', ...head];
    case 'restore':
      return ['sh', '-c', RESTORE, 'sh', ...head, a.snapshot, a.inPlace ? '/' : a.target, a.inPlace ? '1' : '0', ...a.includes.map((p) => `--include=${p}`)];
  }
}

/** restic backup's arguments for a set: excludes, then `--`, then the paths (none: the home, added on the host). */
export function backupArgs(paths: string[], excludes: string[]): string[] {
  return [...excludes.map((e) => `--exclude=${e}`), '--', ...paths];
}

const Num = z.number().check(z.gte(0), z.lte(2 ** 63));
const Status = z.object({
  message_type: z.literal('status'),
  percent_done: z.optional(z.number().check(z.gte(0), z.lte(1))),
  total_files: z.optional(Num),
  files_done: z.optional(Num),
  total_bytes: z.optional(Num),
  bytes_done: z.optional(Num),
});
const Summary = z.object({
  message_type: z.literal('summary'),
  files_new: Num,
  files_changed: Num,
  data_added: Num,
  total_bytes_processed: Num,
  snapshot_id: z.string().check(z.regex(/^[0-9a-f]{8,64}$/)),
  total_duration: z.optional(Num),
});
export type Summary = z.infer<typeof Summary>;
const SnapshotLine = z.array(z.object({ id: z.string(), short_id: z.string(), time: z.string(), hostname: z.string(), paths: z.array(z.string()).check(z.maxLength(256)) })).check(z.maxLength(100_000));

export interface Outcome {
  code: number | null;
  summary: Summary | null;
  snapshots: Snapshot[] | null;
  /** restore: the folder the files went to, as the host resolved it */
  target: string | null;
  stderr: string;
}

const MAX_LINE = 32 * 1024 * 1024;

/** One line of restic's output: progress, the summary, the snapshot list, or the restore target. */
export function readLine(line: string, out: Outcome, progress: (p: BackupProgress) => void): void {
  if (line.startsWith('tower-target /')) {
    out.target = line.slice('tower-target '.length).slice(0, 4096);
    return;
  }
  if (!line.startsWith('{') && !line.startsWith('[')) return;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return;
  }
  if (Array.isArray(v)) {
    const s = SnapshotLine.safeParse(v);
    if (!s.success) return;
    out.snapshots = s.data.map((x) => ({ id: x.id, shortId: x.short_id, time: x.time, hostname: x.hostname, paths: x.paths })).filter((x) => Snapshot.safeParse(x).success);
    return;
  }
  const st = Status.safeParse(v);
  if (st.success) {
    const d = st.data;
    progress({ percent: d.percent_done ?? 0, bytesDone: d.bytes_done ?? 0, totalBytes: d.total_bytes ?? 0, filesDone: Math.trunc(d.files_done ?? 0), totalFiles: Math.trunc(d.total_files ?? 0) });
    return;
  }
  const sum = Summary.safeParse(v);
  if (sum.success) out.summary = sum.data;
}

/**
 * Run one action on the source host: the password goes in as stdin's first line, stdout is read line by line (each
 * line bounded), stderr's end is kept for errors. `abort` closes the channel (the host's restic gets SIGPIPE/EOF).
 */
export function runRestic(s: HostSession, argv: string[], password: string, opts: { timeoutMs: number; progress: (p: BackupProgress) => void; signal?: AbortSignal; also?: HostSession[] }): Promise<Outcome> {
  return s.withSessionSlot(async () => {
    const ch = await openChannel(s, argv, undefined);
    s.trackChannel(ch);
    return new Promise<Outcome>((resolve) => {
      const out: Outcome = { code: null, summary: null, snapshots: null, target: null, stderr: '' };
      let rest = '';
      let err = '';
      const timer = setTimeout(() => ch.close(), opts.timeoutMs);
      const onAbort = () => ch.close();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      // either host's cable cut: restic would retry its dead sftp session for many minutes, and the channel of a
      // host gone would wait for a close that never comes. Closing the channel ends restic (SIGPIPE on its next
      // progress line); a channel that does not close is dropped.
      let lost: NodeJS.Timeout | undefined;
      const watched = [s, ...(opts.also ?? [])];
      const onState = (st: { state: string }) => {
        if (st.state === 'online') return;
        ch.close();
        lost ??= setTimeout(() => ch.destroy(), 5000);
      };
      for (const w of watched) w.on('state', onState);
      ch.on('exit', (c: number | null) => (out.code = c));
      ch.setEncoding('utf8');
      ch.on('data', (b: string) => {
        rest += b;
        let i;
        while ((i = rest.indexOf('\n')) >= 0) {
          readLine(rest.slice(0, i), out, opts.progress);
          rest = rest.slice(i + 1);
        }
        if (rest.length > MAX_LINE) ch.close();
      });
      ch.stderr.on('data', (b: Buffer) => {
        err = (err + b.toString('utf8')).slice(-4000);
      });
      let closed = false;
      ch.on('close', () => {
        if (closed) return;
        closed = true;
        clearTimeout(timer);
        clearTimeout(lost);
        for (const w of watched) w.off('state', onState);
        opts.signal?.removeEventListener('abort', onAbort);
        if (rest) readLine(rest, out, opts.progress);
        out.code ??= recordedExit(ch)?.code ?? null;
        out.stderr = err.trim();
        resolve(out);
      });
      ch.end(`${password}\n`);
    });
  });
}

/** The last lines of restic's stderr, for an error message (restic says what went wrong at the end). */
export function lastWords(stderr: string, code: number | null): string {
  const lines = stderr.split('\n').filter((l) => l.trim() && !/^(using parent snapshot|repository [0-9a-f]+ opened|created restic repository|Please note|the repository|irrecoverably|successfully removed|load index|check snapshots|no errors were found|read .* data|\[)/.test(l));
  const tail = lines.slice(-3).join('; ').slice(0, 600);
  return tail || (code === null ? 'the connection closed before restic finished' : `restic exited with ${code}`);
}
