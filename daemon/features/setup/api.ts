import type { Core } from '../../core/feature.js';
import { TowerError } from '../../core/errors.js';
import { runCaptured } from '../../core/exec/run.js';
import type { Implementation } from '../../core/rpc/dispatch.js';
import { doctor, type DoctorDeps } from './doctor.js';
import { TOOLS_PROBE, answeredAll, missingPackages, needsFor, parseTools } from './needs.js';

export function setupMethods(core: Core, deps: DoctorDeps): Implementation {
  return {
    'setup.check': async ({ host }) => {
      const s = core.connected(host);
      const needs = needsFor(deps.backup?.sets(host) ?? 0);
      // one SSH command: `command -v` of every program, each name an argument of the probe
      const probe = () => runCaptured(s, ['sh', '-c', TOOLS_PROBE, 'sh', ...needs.map((n) => n.tool)], 15_000, 64 * 1024);
      let r = await probe();
      if (!answeredAll(r.stdout, needs)) r = await probe();
      if (!answeredAll(r.stdout, needs)) throw new TowerError('HostUnavailable', `${host} did not answer the check of its programs (${r.code === null ? 'no exit status' : `exit ${r.code}`}${r.stderr ? `: ${r.stderr.slice(0, 200)}` : ''})`);
      const tools = parseTools(r.stdout, needs);
      return { host, tools, missing: missingPackages(tools) };
    },
    'doctor.run': async (params) => ({ checks: await doctor(deps, params) }),
  };
}
