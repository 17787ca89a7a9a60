import type { Core, Feature } from '../../core/feature.js';
import { auditMethods } from './api.js';
import { Auditor } from './auditor.js';

/**
 * The posture audit (`towerctl audit`): what each host's firewall, sshd and boot media actually allow, found by
 * probing from the host. Runs on demand and after a host connects; each host's last result is its `posture`.
 */
export function auditFeature(core: Core): Feature {
  const auditor = core.supervisor
    ? new Auditor(core, (audit) => {
        const host = core.registry.get(audit.name);
        if (host) core.hub.publish({ type: 'host.posture', topic: 'hosts', host: core.hostInfo(host), audit });
      })
    : undefined;
  return {
    name: 'audit',
    methods: auditMethods(core, auditor),
    stop: () => auditor?.stop(),
    hostsChanged: (c) => {
      for (const name of c.removed) auditor?.forget(name);
    },
    connectionChanged: (name, online) => auditor?.connectionChanged(name, online),
    hostInfo: (name) => {
      const posture = auditor?.lastOf(name)?.posture;
      return posture ? { posture } : {};
    },
  };
}
