// The posture audit (`towerctl audit`): what each host's network lets through, its sshd and its boot media.
import * as z from 'zod/mini';
import { HostInfo, HostName, Posture } from './host.js';

/**
 * How one check came out. `open`: a security property does not hold (posture open). `warn`: not as TowerOS sets it
 * up, but nothing is exposed (an online host that cannot reach the internet). `unknown`: the check could not tell.
 */
export const AuditStatus = z.enum(['ok', 'open', 'warn', 'unknown']);
export type AuditStatus = z.infer<typeof AuditStatus>;

export const AuditCheck = z.object({
  check: z.string().check(z.maxLength(64), z.describe('what is checked: "thin client (other network)", "sshd passwordauthentication", "boot media file", …')),
  target: z.nullable(z.string().check(z.maxLength(300))).check(z.describe('address:port probed, sshd setting, or file path')),
  expect: z.string().check(z.maxLength(64)),
  seen: z.string().check(z.maxLength(300), z.describe('what the host reported (tcp connect outcome, udp send outcome, a setting’s value)')),
  status: AuditStatus,
});
export type AuditCheck = z.infer<typeof AuditCheck>;

export const HostAudit = z.object({
  name: HostName,
  posture: Posture,
  at: z.iso.datetime().check(z.describe('when the audit ended')),
  durationMs: z.number(),
  trigger: z.enum(['connect', 'manual']),
  error: z.nullable(z.string()).check(z.describe('why the audit could not run at all (host not connected)')),
  checks: z.array(AuditCheck).check(z.maxLength(64)),
});
export type HostAudit = z.infer<typeof HostAudit>;

const Hosts = z.optional(z.array(HostName).check(z.maxLength(1000), z.describe('default: every host')));

export const auditMethods = {
  'audit.run': {
    description:
      'Audit hosts now (all when none are given): bounded TCP connects and UDP sends from each host to the thin client, other hosts, ' +
      'the router and the relay’s internet address; its sshd settings (`sshd -T`); tower.env or the LUKS key file left on its boot media. ' +
      'Answers when every host is done.',
    params: z.strictObject({ hosts: Hosts }),
    result: z.object({ results: z.array(HostAudit) }),
  },
  'audit.list': {
    description: 'The last audit of each host (null before its first).',
    params: z.strictObject({ hosts: Hosts }),
    result: z.object({ hosts: z.array(z.object({ name: HostName, audit: z.nullable(HostAudit) })) }),
  },
} as const;

export const AuditEvents = [z.object({ type: z.literal('host.posture'), topic: z.literal('hosts'), host: HostInfo, audit: HostAudit })] as const;
