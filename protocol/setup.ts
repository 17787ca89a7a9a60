import * as z from 'zod/mini';
import { HostName } from './host.js';
import { PackageName } from './packages.js';

/** One program a host needs for a feature of Tower, and the Alpine package that provides it. */
export const HostTool = z.object({
  tool: z.string(),
  package: PackageName,
  /** what stops working without it */
  for: z.string(),
  /** false: only a part of a feature goes (xrandr: the fast resize) */
  required: z.boolean(),
  present: z.boolean(),
});
export type HostTool = z.infer<typeof HostTool>;

export const DoctorStatus = z.enum(['ok', 'warn', 'fail']);
export type DoctorStatus = z.infer<typeof DoctorStatus>;

/** One row of `towerctl doctor`: where, what, how it went, and what to do about it. */
export const DoctorCheck = z.object({
  /** `thinclient` or a host's name */
  scope: z.string(),
  check: z.string(),
  status: DoctorStatus,
  detail: z.string(),
  /** what to do; '' when status is ok */
  fix: z.string(),
});
export type DoctorCheck = z.infer<typeof DoctorCheck>;

const EnvValue = z.optional(z.string().check(z.minLength(1), z.maxLength(4096), z.regex(/^[^\0\n]*$/)));

export const setupMethods = {
  'setup.check': {
    description:
      'What Tower needs on a host (its host-side programs, each with the Alpine package that provides it) and which of them are missing, ' +
      'found with `command -v` in one SSH command. `missing` lists the packages to install, in the order apk gets them.',
    params: z.strictObject({ host: HostName }),
    result: z.object({ host: HostName, tools: z.array(HostTool), missing: z.array(PackageName) }),
  },
  'doctor.run': {
    description:
      'Checks of the thin client (viewer, X tools, PulseAudio, Wayland clipboard, sway, provisioning tools, the socket, pinned keys) and of ' +
      'each host (connection, host-side programs, sound, clock offset, free space, apk repositories), each ok, warn or fail with what to do.',
    params: z.strictObject({
      hosts: z.optional(z.array(HostName).check(z.maxLength(256))),
      /** towerctl's session, where the thin client's checks look for sway and Wayland */
      env: z.optional(z.strictObject({ SWAYSOCK: EnvValue, WAYLAND_DISPLAY: EnvValue, XDG_RUNTIME_DIR: EnvValue })),
    }),
    result: z.object({ checks: z.array(DoctorCheck) }),
  },
} as const;
