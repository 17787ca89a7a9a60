// The two kinds of end a transfer has: a host (commands over its supervised SSH connection, as its login user) and
// the thin client (towerd's own user, local processes). Both run tar; towerd only ever talks tar to them.
import { spawn } from 'node:child_process';
import { mkdir, realpath, rename, rm, rmdir } from 'node:fs/promises';
import { isAbsolute, join, posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import { openChannel, runCaptured } from '../../core/exec/run.js';
import { recordedExit } from '../../core/exec/stream.js';
import type { HostSession } from '../../core/ssh/session.js';
import { exists } from '../../core/util/fs.js';
import { MAX_SUFFIX, RENAME_SCRIPT, suffixed } from './naming.js';

export const TMP_PREFIX = '.tower-incoming-';

export interface ProcExit {
  code: number | null;
  stderr: string;
}

export interface Proc<S> {
  stream: S;
  done: Promise<ProcExit>;
  kill(): void;
}

export interface SourcePath {
  /** the folder to run tar in: absolute, or `./…` relative to the home */
  parent: string;
  /** the name tar is given and the transfer's top-level name */
  base: string;
  /** the path as given, normalised, for the log and for removal */
  path: string;
}

export interface TopEntry {
  name: string;
  type: 'file' | 'directory';
}

export interface End {
  readonly name: string;
  /** `tar c` of one path; its stdout is the tar stream */
  create(src: SourcePath): Promise<Proc<Readable>>;
  /** create the folder (relative: to the home) and answer its absolute real path */
  prepare(dir: string): Promise<string>;
  makeTmp(tmp: string): Promise<void>;
  /** `tar x` into the (empty) temporary folder; its stdin takes the fresh stream */
  extract(tmp: string): Promise<Proc<Writable>>;
  /** move the staged top-level entries from tmp into base/sub under free names, remove tmp; the names given */
  rename(base: string, sub: string, tmp: string, items: TopEntry[]): Promise<string[]>;
  removeTmp(tmp: string): Promise<void>;
  removeSources(paths: SourcePath[]): Promise<void>;
}

/** A path as the user wrote it, split into where tar runs and what it archives; refused for `.`, `..` and `/`. */
export function sourcePath(raw: string): SourcePath | { error: string } {
  let p = raw;
  if (p === '~') p = '.';
  else if (p.startsWith('~/')) p = p.slice(2);
  p = posix.normalize(p);
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  const base = posix.basename(p);
  if (base === '' || base === '.' || base === '..' || p === '/') return { error: `${raw}: name a file or folder, not . .. or /` };
  let parent = posix.dirname(p);
  if (!parent.startsWith('/')) parent = parent === '.' ? '.' : `./${parent}`;
  return { parent, base, path: p.startsWith('/') ? p : `./${p}` };
}

/** A target folder as the user wrote it: absolute, or relative to the home (`~/` allowed). */
export function targetDir(raw: string): string {
  if (raw === '~') return '.';
  const p = raw.startsWith('~/') ? raw.slice(2) : raw;
  const n = posix.normalize(p);
  return n.startsWith('/') ? n : `./${n}`;
}

// ---------------------------------------------------------------------------------------------------------------
// a host

const sh = (script: string, ...args: string[]) => ['sh', '-c', script, 'sh', ...args];

function remoteProc(s: HostSession, argv: string[]): Promise<Proc<ClientChannel>> {
  return new Promise((resolveOpen, rejectOpen) => {
    void s
      .withSessionSlot(async () => {
        let ch: ClientChannel;
        try {
          ch = await openChannel(s, argv, undefined);
        } catch (err) {
          rejectOpen(new Error(`cannot start tar on ${s.host.name}: ${(err as Error).message}`));
          return;
        }
        s.trackChannel(ch);
        let stderr = '';
        ch.stderr.on('data', (b: Buffer) => {
          if (stderr.length < 2000) stderr += b.toString('utf8');
        });
        const done = new Promise<ProcExit>((resolve) => {
          let code: number | null = null;
          let exited: (() => void) | undefined;
          ch.on('exit', (c: number | null) => {
            code = c;
            exited?.();
          });
          ch.on('close', () => {
            code ??= recordedExit(ch)?.code ?? null;
            const finish = () => resolve({ code, stderr: stderr.trim().slice(0, 1000) });
            if (code !== null) return finish();
            // ssh2 can report the close just before the exit status it already received
            const grace = setTimeout(finish, 200);
            exited = () => {
              clearTimeout(grace);
              finish();
            };
          });
        });
        resolveOpen({ stream: ch, done, kill: () => ch.close() });
        await done;
      })
      .catch((err: unknown) => rejectOpen(err as Error));
  });
}

async function remoteRun(s: HostSession, argv: string[], what: string, timeoutMs = 60_000): Promise<string> {
  const r = await runCaptured(s, argv, timeoutMs);
  if (r.code !== 0) throw new Error(`${what} on ${s.host.name} failed (${r.code === null ? 'no exit status' : `exit ${r.code}`})${r.stderr ? `: ${r.stderr}` : ''}`);
  return r.stdout;
}

export function hostEnd(session: () => HostSession): End {
  const name = session().host.name;
  return {
    name,
    async create(src) {
      const p = await remoteProc(session(), sh('cd -- "$1" && exec tar -c -f - "./$2"', src.parent, src.base));
      return { ...p, stream: p.stream };
    },
    async prepare(dir) {
      const out = await remoteRun(session(), sh('mkdir -p -- "$1" && cd -- "$1" && pwd -P', dir), `creating ${dir}`);
      const abs = out.trim();
      if (!abs.startsWith('/') || abs.includes('\n')) throw new Error(`${name} answered no folder for ${dir}`);
      return abs;
    },
    async makeTmp(tmp) {
      await remoteRun(session(), sh('mkdir -m 700 -- "$1"', tmp), `creating ${tmp}`);
    },
    async extract(tmp) {
      const p = await remoteProc(session(), sh('cd -- "$1" && exec tar -x -o -f -', tmp));
      // its stdout must be read (it is empty) or the channel never reports its close
      p.stream.resume();
      return { ...p, stream: p.stream };
    },
    async rename(base, sub, tmp, items) {
      const out = await remoteRun(session(), sh(RENAME_SCRIPT, base, sub, tmp, ...items.map((i) => `${i.type === 'file' ? 'f' : 'd'}:${i.name}`)), 'moving the files into place');
      const names = out.split('\n').filter((l) => l !== '');
      if (names.length !== items.length) throw new Error(`${name} answered ${names.length} names for ${items.length} entries`);
      return names;
    },
    async removeTmp(tmp) {
      await remoteRun(session(), sh(`case $1 in /*/${TMP_PREFIX}*) rm -rf -- "$1" ;; *) exit 2 ;; esac`, tmp), `removing ${tmp}`);
    },
    async removeSources(paths) {
      await remoteRun(session(), sh('rm -rf -- "$@"', ...paths.map((p) => p.path)), 'removing the sources', 600_000);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// the thin client

function localProc(argv: string[], cwd: string, stdin: 'pipe' | 'ignore'): { child: ReturnType<typeof spawn>; done: Promise<ProcExit> } {
  const [cmd, ...args] = argv as [string, ...string[]];
  const child = spawn(cmd, args, { cwd, stdio: [stdin, stdin === 'pipe' ? 'ignore' : 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    if (stderr.length < 2000) stderr += b.toString('utf8');
  });
  const done = new Promise<ProcExit>((resolve) => {
    child.on('error', (err) => {
      stderr += err.message;
    });
    child.on('close', (code) => resolve({ code, stderr: stderr.trim().slice(0, 1000) }));
  });
  return { child, done };
}


export function localEnd(home: string, name: string): End {
  const abs = (p: string) => (isAbsolute(p) ? p : join(home, p));
  return {
    name,
    create(src) {
      const { child, done } = localProc(['tar', '-c', '-f', '-', '-C', abs(src.parent), `./${src.base}`], home, 'ignore');
      return Promise.resolve({ stream: child.stdout as Readable, done, kill: () => child.kill('SIGKILL') });
    },
    async prepare(dir) {
      await mkdir(abs(dir), { recursive: true, mode: 0o700 });
      return realpath(abs(dir));
    },
    async makeTmp(tmp) {
      await mkdir(tmp, { mode: 0o700 });
    },
    extract(tmp) {
      const { child, done } = localProc(['tar', '-x', '-f', '-', '--no-same-owner'], tmp, 'pipe');
      return Promise.resolve({ stream: child.stdin as Writable, done, kill: () => child.kill('SIGKILL') });
    },
    async rename(base, sub, tmp, items) {
      const dir = sub ? join(base, sub) : base;
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const names: string[] = [];
      for (const item of items) {
        for (let i = 0; ; i++) {
          if (i > MAX_SUFFIX) throw new Error(`no free name for ${item.name} in ${dir}`);
          const t = suffixed(item.name, item.type, i);
          if (await exists(join(dir, t))) continue;
          await rename(join(tmp, item.name), join(dir, t));
          names.push(t);
          break;
        }
      }
      await rmdir(tmp);
      return names;
    },
    async removeTmp(tmp) {
      if (!posix.basename(tmp).startsWith(TMP_PREFIX)) throw new Error(`refusing to remove ${tmp}`);
      await rm(tmp, { recursive: true, force: true });
    },
    async removeSources(paths) {
      for (const p of paths) await rm(abs(p.path), { recursive: true, force: true });
    },
  };
}
