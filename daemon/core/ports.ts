// What features offer each other. A feature imports another only through one of these declared interfaces, handed
// to it in daemon/features.ts; never the other feature's modules.
import type { HostClock, PackageAction, SoundState, WorldDiff, WorldRestore } from '../../protocol/index.js';
import type { HostSession } from './ssh/session.js';

/** The apps feature: a host's app displays, most recent (focused) first, and how many apps run there. */
export interface AppsPort {
  displays(host: string): string[];
  displayEnv?(host: string, display: string): { DISPLAY: string; XAUTHORITY: string } | undefined;
  running(host: string): number;
  /** `fn` hears of every change of a host's app displays (an app started or exited); the result stops it */
  watchDisplays?(fn: (host: string) => void): () => void;
}

/** The sound feature: a host's sound state, why it is down, and where the host's apps send their sound. */
export interface SoundPort {
  state(host: string): SoundState;
  error(host: string): string | null;
  /** PULSE_SERVER for the host's apps, '' while sound is off for it */
  pulseServer(host: string): string;
}

/**
 * apk on one connected host the way `towerctl install` runs it: for an offline host the package relay is open from
 * `open` until `close`, and `argv` carries its proxy.
 */
export interface ApkSession {
  readonly session: HostSession;
  readonly relayed: boolean;
  argv(action: PackageAction, packages: string[], opts: { progress: boolean }): string[];
  /** what went wrong with a captured apk run, in words: no status, a missing privilege command, apk's last line */
  failure(what: string, r: { code: number | null; stderr: string }): Error;
  /** keep the host's /etc/apk/world in its folder here (after a successful change) */
  saveWorld(): Promise<void>;
  close(): Promise<void>;
}

/** The packages feature. */
export interface PackagesPort {
  open(host: string): Promise<ApkSession>;
  /**
   * `fn` hears the host's name after each package change that finished there (`towerctl install|remove|upgrade`,
   * an automatic update: every successful apk change, which saves the host's world); the result stops it
   */
  watchChanges?(fn: (host: string) => void): () => void;
  /** the host's saved world (hosts/NAME/world) against its /etc/apk/world */
  worldDiff(host: string): Promise<WorldDiff>;
  /** `towerctl install HOST --world` run by towerd itself: apk add of what is missing, the way install runs it */
  restoreWorld(host: string): Promise<WorldRestore>;
}

/** A host's clock against the thin client's, ms: offset (host minus here), its bound and the round trip used. */
export interface ClockMeasurement {
  offsetMs: number;
  boundMs: number;
  rttMs: number;
}

/** The clock feature. */
export interface ClockPort {
  /** measure a connected host's clock now (several RTT-corrected samples, the tightest kept), setting nothing */
  measure(host: string): Promise<ClockMeasurement>;
  /** what towerd knows of the host's clock: last measurement, time service, policy, last setting */
  clock(host: string): HostClock | undefined;
}

/** The backup feature: how many backup sets back up a host (towerd.json backup.sets). */
export interface BackupPort {
  sets(host: string): number;
}
