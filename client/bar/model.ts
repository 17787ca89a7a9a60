import type { Event, ExportState, HostInfo, RegistryStatus } from '../../protocol/index.js';
import { compareHosts } from '../../daemon/shared/hostorder.js';

/** What the bar shows of a host; the rest of HostInfo never reaches the screen. */
export type BarHost = Pick<HostInfo, 'name' | 'role' | 'color' | 'state' | 'rttMs' | 'lastError' | 'updates' | 'sound' | 'clipboard' | 'posture' | 'backup'>;

/** What the bar keeps of the state export's freshness (status `stateExport`, `export.state` events). */
export type BarExport = Pick<ExportState, 'state' | 'warn' | 'lastExportAt'>;

export interface UpView {
  daemon: 'up';
  /** registry order: router first, then by name (as towerd lists them) */
  hosts: readonly BarHost[];
  registry: Pick<RegistryStatus, 'ok' | 'error'>;
  /** whether an export of the thin client's own state is newer than the registry's last change */
  stateExport?: BarExport;
}
export type BarView = UpView | { daemon: 'down' };

export const DOWN: BarView = { daemon: 'down' };

function pick(h: BarHost): BarHost {
  const b: BarHost = { name: h.name, role: h.role, color: h.color, state: h.state, rttMs: h.rttMs, lastError: h.lastError };
  if (h.updates) b.updates = h.updates;
  if (h.sound) b.sound = h.sound;
  if (h.clipboard) b.clipboard = h.clipboard;
  if (h.posture) b.posture = h.posture;
  if (h.backup) b.backup = h.backup;
  return b;
}


export function fromSnapshot(s: { hosts: readonly BarHost[]; registry: Pick<RegistryStatus, 'ok' | 'error'>; stateExport?: BarExport | undefined }): UpView {
  const v: UpView = { daemon: 'up', hosts: s.hosts.map(pick), registry: { ok: s.registry.ok, error: s.registry.error } };
  if (s.stateExport) v.stateExport = pickExport(s.stateExport);
  return v;
}

function pickExport(e: BarExport): BarExport {
  return { state: e.state, warn: e.warn, lastExportAt: e.lastExportAt };
}

function upsert(hosts: readonly BarHost[], h: BarHost): BarHost[] {
  const rest = hosts.filter((x) => x.name !== h.name);
  return [...rest, pick(h)].sort(compareHosts); // towerd's order: a host added by an event lands where a fresh status would put it
}

/**
 * The view after one event. Pure: events carry whole HostInfo objects, so replaying one that the snapshot already
 * contains is harmless (see link.ts, which replays the events that raced the snapshot).
 */
export function applyEvent(v: UpView, e: Event): BarView {
  switch (e.type) {
    case 'host.added':
      return { ...v, hosts: upsert(v.hosts, e.host) };
    case 'host.state':
    case 'host.updates':
    case 'host.posture':
    case 'host.backup':
      // a state change of a host this view does not know yet (missed add) still shows it
      return { ...v, hosts: v.hosts.some((h) => h.name === e.host.name) ? v.hosts.map((h) => (h.name === e.host.name ? pick(e.host) : h)) : upsert(v.hosts, e.host) };
    case 'host.removed':
      return { ...v, hosts: v.hosts.filter((h) => h.name !== e.name) };
    case 'registry.changed':
      // an invalid edit on disk is not applied by towerd; its host list is still the last good one
      return fromSnapshot({ hosts: e.hosts, registry: e.registry, stateExport: v.stateExport });
    case 'export.state':
      return { ...v, stateExport: pickExport(e.export) };
    case 'daemon.stopping':
      return DOWN;
    case 'log':
    case 'job.progress':
    case 'app.started':
    case 'app.exited':
    case 'app.viewer':
    case 'clipboard.transfer':
    case 'files.transfer':
    case 'files.progress':
      return v;
  }
}
