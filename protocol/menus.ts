// App menus synced from hosts (`towerctl menu`): the desktop entries towerd read on each host and wrote here.
import * as z from 'zod/mini';
import { HostName } from './host.js';

/** A desktop file ID as the host named it (`org.gnome.Calculator.desktop` without the suffix). */
export const MenuAppId = z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/, 'a desktop file id'));

export const MenuApp = z.object({
  host: HostName,
  id: MenuAppId,
  name: z.string().check(z.maxLength(200), z.describe('the Name key as the host gave it (without [HOST])')),
  genericName: z.nullable(z.string().check(z.maxLength(200))),
  argv: z
    .array(z.string().check(z.maxLength(4096)))
    .check(z.minLength(1), z.maxLength(80), z.describe('what `towerctl run HOST --` gets: Exec split by the Desktop Entry rules, field codes removed; through the terminal for Terminal=true')),
  terminal: z.boolean(),
  categories: z.array(z.string().check(z.maxLength(64))).check(z.maxLength(32)),
  icon: z.nullable(z.string().check(z.maxLength(4096), z.describe('the icon file written here, or null'))),
  file: z.string().check(z.maxLength(4096), z.describe('the desktop entry written here')),
});
export type MenuApp = z.infer<typeof MenuApp>;

export const MenuState = z.object({
  enabled: z.boolean().check(z.describe('menus.enabled and menus.hosts for this host')),
  apps: z.int().check(z.describe('entries written for the host')),
  refused: z.int().check(z.describe('entries or icons refused at the last sync (towerctl logs says why)')),
  lastSync: z.nullable(z.iso.datetime()),
  lastError: z.nullable(z.string().check(z.maxLength(1000))),
});
export type MenuState = z.infer<typeof MenuState>;

export const menuMethods = {
  'menus.list': {
    description: 'The apps in the menus written from each host (or one host), by host then name.',
    params: z.strictObject({ host: z.optional(HostName) }),
    result: z.object({
      apps: z.array(MenuApp).check(z.maxLength(100_000)),
      hosts: z.array(z.object({ name: HostName, menu: MenuState })).check(z.maxLength(1000)),
    }),
  },
  'menus.sync': {
    description: 'Read a host’s desktop entries again now (all connected hosts when none is given) and rewrite its menu entries.',
    params: z.strictObject({ host: z.optional(HostName) }),
    result: z.object({ hosts: z.array(z.object({ name: HostName, menu: MenuState })).check(z.maxLength(1000)) }),
  },
} as const;
