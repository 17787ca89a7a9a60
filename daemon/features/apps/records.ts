import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as z from 'zod/mini';
import { ViewerEnv, type AppInfo, type AppState, type ViewerState } from '../../../protocol/index.js';
import { writeFileAtomic } from '../../core/util/fs.js';
import { DIR_NAME_RE } from './hostscript.js';

/** What towerd knows of an app from its launch on; fixed for the app's life, and all a later towerd needs to reattach it. */
export interface AppRecord {
  readonly id: string;
  readonly host: string;
  readonly argv: string[];
  /** the app's folder name on its host (DIR_NAME_RE) */
  readonly dirName: string;
  readonly hostDir: string;
  readonly display: string;
  readonly pid: number;
  readonly startedAt: Date;
  /** the graphical environment its viewer is shown in */
  readonly env: ViewerEnv;
}

const Persisted = z.object({
  id: z.string().check(z.regex(/^a[0-9]{1,9}$/)),
  host: z.string(),
  argv: z.array(z.string()),
  dirName: z.string().check(z.regex(DIR_NAME_RE)),
  hostDir: z.string(),
  display: z.string(),
  pid: z.int(),
  startedAt: z.iso.datetime(),
  env: ViewerEnv,
});
const StateFile = z.object({ next: z.int(), apps: z.array(Persisted) });

/**
 * The records of the apps still running, in `apps.json` of towerd's runtime folder, and the ids they are named by:
 * ids keep counting across towerd restarts, so an app reattached by the next towerd never shares an id with a new one.
 */
export class AppRecords {
  private next = 1;

  constructor(private readonly file: string) {}

  /** A fresh id, and the app's folder name on its host (random, so a folder left by an older towerd never matches). */
  allocate(): { id: string; dirName: string } {
    const id = `a${this.next++}`;
    return { id, dirName: `${id}-${randomBytes(4).toString('hex')}` };
  }

  /** The records a previous towerd left; none when the file is missing or not its own. */
  async load(): Promise<AppRecord[]> {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(this.file, 'utf8'));
    } catch {
      return []; // no records: nothing to reattach
    }
    const parsed = StateFile.safeParse(raw);
    if (!parsed.success) return [];
    this.next = parsed.data.next;
    return parsed.data.apps.map((r) => ({ ...r, startedAt: new Date(r.startedAt) }));
  }

  async save(records: Iterable<AppRecord>): Promise<void> {
    const apps = [...records].map((r) => ({ id: r.id, host: r.host, argv: r.argv, dirName: r.dirName, hostDir: r.hostDir, display: r.display, pid: r.pid, startedAt: r.startedAt.toISOString(), env: r.env }));
    await writeFileAtomic(this.file, JSON.stringify({ next: this.next, apps }));
  }
}

/** An app as the API shows it: its record and where its life and its viewer stand now. */
export function appInfo(r: AppRecord, now: { state: AppState; viewer: ViewerState; exitCode: number | null }): AppInfo {
  return {
    id: r.id,
    host: r.host,
    argv: r.argv,
    state: now.state,
    viewer: now.viewer,
    display: r.display,
    pid: r.pid,
    hostDir: r.hostDir,
    startedAt: r.startedAt.toISOString(),
    uptimeMs: Date.now() - r.startedAt.getTime(),
    exitCode: now.exitCode,
  };
}
