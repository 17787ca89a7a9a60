import { join, resolve } from 'node:path';
import type { MenuApp, MenuState } from '../../../protocol/index.js';
import type { Core } from '../../core/feature.js';
import { runChannel } from '../../core/exec/run.js';
import type { Settings } from '../../core/settings.js';
import { parseEntry } from './entry.js';
import { checkIcon } from './icons.js';
import { menuScriptArgv, parseScriptOutput } from './hostscript.js';
import { menuDirs, removeHostMenu, writeHostMenu, writtenHosts, type MenuDirs, type WriteApp } from './writer.js';

interface HostMenu {
  apps: MenuApp[];
  refused: number;
  lastSync: string | null;
  lastError: string | null;
  /** the sync running now, and whether another was asked for meanwhile */
  running: Promise<void> | null;
  again: boolean;
}

export function menusEnabled(s: Settings, host: string): boolean {
  return s.menus.hosts[host] ?? s.menus.enabled;
}

/** $XDG_DATA_HOME (default ~/.local/share) of towerd's environment. */
export function dataHome(home: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_DATA_HOME?.startsWith('/') ? resolve(env.XDG_DATA_HOME) : join(home, '.local', 'share');
}

/**
 * Each host's menu: read with one bounded command on its connection, checked entry by entry, written here. One
 * sync per host at a time; a change that arrives during one runs another right after it.
 */
export class MenuSync {
  readonly dirs: MenuDirs;
  private readonly hosts = new Map<string, HostMenu>();
  private stopped = false;

  constructor(private readonly core: Core, data: string) {
    this.dirs = menuDirs(data);
  }

  private menu(host: string): HostMenu {
    let m = this.hosts.get(host);
    if (!m) {
      m = { apps: [], refused: 0, lastSync: null, lastError: null, running: null, again: false };
      this.hosts.set(host, m);
    }
    return m;
  }

  state(host: string): MenuState {
    const m = this.hosts.get(host);
    return { enabled: menusEnabled(this.core.settings(), host), apps: m?.apps.length ?? 0, refused: m?.refused ?? 0, lastSync: m?.lastSync ?? null, lastError: m?.lastError ?? null };
  }

  apps(host?: string): MenuApp[] {
    const out: MenuApp[] = [];
    for (const [name, m] of this.hosts) if (!host || host === name) out.push(...m.apps);
    return out.sort((a, b) => a.host.localeCompare(b.host) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  /** Remove the folders of hosts that are gone or have menus off (towerd start, settings change). */
  async prune(): Promise<void> {
    for (const h of await writtenHosts(this.dirs)) {
      if (!this.core.registry.get(h) || !menusEnabled(this.core.settings(), h)) await this.remove(h);
    }
  }

  async remove(host: string): Promise<void> {
    const m = this.hosts.get(host);
    if (m?.running) await m.running.catch(() => undefined);
    this.hosts.delete(host);
    try {
      await removeHostMenu(this.dirs, host);
      this.core.log.info({ host }, 'menu entries removed');
    } catch (err) {
      this.core.log.error({ host, err: (err as Error).message }, 'could not remove menu entries');
    }
  }

  /** Sync a host now, or right after the sync that runs now; resolves when the host's menu is current. */
  sync(host: string): Promise<void> {
    if (this.stopped || !menusEnabled(this.core.settings(), host) || !this.core.registry.get(host)) return Promise.resolve();
    const m = this.menu(host);
    if (m.running) {
      m.again = true;
      return m.running;
    }
    const loop = async () => {
      do {
        m.again = false;
        await this.once(host, m);
      } while (m.again && !this.stopped);
      m.running = null;
    };
    m.running = loop();
    return m.running;
  }

  stop(): void {
    this.stopped = true;
  }

  private async once(host: string, m: HostMenu): Promise<void> {
    const started = Date.now();
    try {
      const { apps, refused } = await this.read(host);
      if (!menusEnabled(this.core.settings(), host) || !this.core.registry.get(host)) return;
      m.apps = await writeHostMenu(this.dirs, host, apps, this.core.settings().menus.towerctl);
      m.refused = refused;
      m.lastError = null;
      this.core.log.info({ host, apps: m.apps.length, refused, ms: Date.now() - started }, 'menu synced');
    } catch (err) {
      m.lastError = (err as Error).message.slice(0, 1000);
      this.core.log.warn({ host, err: m.lastError }, 'menu sync failed');
    } finally {
      m.lastSync = new Date().toISOString();
      this.core.hostChanged(host);
    }
  }

  private async read(host: string): Promise<{ apps: WriteApp[]; refused: number }> {
    const cfg = this.core.settings().menus;
    const session = this.core.connected(host);
    const caps = { fileCap: cfg.maxFileBytes, iconCap: cfg.maxIconBytes, hostCap: cfg.maxHostBytes, maxFiles: cfg.maxApps };
    // headers and newlines on top of the content cap
    const maxBytes = cfg.maxHostBytes + 512 * 1024;
    const r = await runChannel(session, menuScriptArgv({ ...caps, appDirs: cfg.applicationDirs, iconDirs: cfg.iconDirs }), { timeoutMs: cfg.timeoutMs, maxBytes, countUpTo: maxBytes });
    if (r.size > maxBytes) throw new Error(`${host} sent more than ${maxBytes} bytes of menu data`);
    if (r.code !== 0) throw new Error(`reading ${host}'s desktop entries: ${r.code === null ? 'no exit status (timed out or connection lost)' : `exit status ${r.code}`}${r.stderr ? `: ${r.stderr.slice(0, 300)}` : ''}`);
    const out = parseScriptOutput(r.stdout, caps);
    let refused = 0;
    for (const x of out.refused) {
      // an icon that is not there is no refusal: the entry goes without one
      if (x.reason === 'icon-missing') {
        this.core.log.debug({ host, icon: x.name.slice(0, 200) }, 'menu: icon not found');
        continue;
      }
      refused++;
      this.core.log.warn({ host, file: x.name.slice(0, 200), reason: x.reason }, 'menu: host file refused');
    }
    const apps: WriteApp[] = [];
    for (const f of out.files) {
      const id = f.name.replace(/\.desktop$/, '');
      const parsed = parseEntry(f.data, `${f.dir}/${f.name}`);
      if (!parsed.ok) {
        if (parsed.hidden) this.core.log.debug({ host, file: f.name, reason: parsed.reason }, 'menu: entry not shown');
        else {
          refused++;
          this.core.log.warn({ host, file: f.name, reason: parsed.reason }, 'menu: entry refused');
        }
        continue;
      }
      const e = parsed.entry;
      let icon: WriteApp['icon'] = null;
      const raw = e.icon ? out.icons.get(e.icon) : undefined;
      if (raw) {
        const c = checkIcon(raw.ext, raw.data);
        if (c.ok) icon = { kind: c.kind, size: c.size, data: raw.data };
        else {
          refused++;
          this.core.log.warn({ host, file: f.name, icon: raw.key.slice(0, 200), reason: c.reason }, 'menu: icon refused');
        }
      }
      const argv = e.terminal ? [...cfg.terminal, ...e.argv] : e.argv;
      apps.push({ host, id, name: e.name, genericName: e.genericName, argv, categories: e.categories, icon, terminal: e.terminal });
    }
    return { apps, refused };
  }
}
