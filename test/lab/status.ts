// A live view of a lab: what the state file says, checked against the kernel (is sshd alive, is the
// host's switch port attached and up, does its namespace exist).
import { runOk } from './exec.js';
import { listNetns, bridgeOf } from './netns.js';
import { isAlive } from './proc.js';
import type { RunningLab } from './runningLab.js';
import type { LabHost } from './types.js';

export interface HostStatus extends Pick<LabHost, 'name' | 'role' | 'ip' | 'netns' | 'sshdPid'> {
  sshd: 'running' | 'stopped';
  /** 'connected', or how the host is cut off right now. */
  link: 'connected' | 'unplugged' | 'carrier-down' | 'missing';
  namespace: boolean;
}

export interface LabStatus {
  prefix: string;
  home: string;
  sshConfig: string;
  tcNetns: string;
  internetNetns: string;
  internetIp: string;
  hosts: HostStatus[];
}

interface IpLink {
  ifname: string;
  master?: string;
  flags?: string[];
}

export async function labStatus(lab: RunningLab): Promise<LabStatus> {
  const state = lab.snapshot();
  const { stdout } = await runOk(['ip', '-n', state.switchNetns, '-j', 'link', 'show'], { context: 'reading the switch ports' });
  const ports = new Map((JSON.parse(stdout) as IpLink[]).map((l) => [l.ifname, l]));
  const namespaces = new Set(await listNetns());
  const hosts = await Promise.all(
    state.hosts.map(async (h): Promise<HostStatus> => {
      const port = ports.get(h.name);
      const link = !port
        ? 'missing'
        : port.master !== bridgeOf(h.role)
          ? 'unplugged'
          : port.flags?.includes('UP')
            ? 'connected'
            : 'carrier-down';
      return {
        name: h.name,
        role: h.role,
        ip: h.ip,
        netns: h.netns,
        sshdPid: h.sshdPid,
        sshd: h.sshdPid > 0 && (await isAlive(h.sshdPid)) ? 'running' : 'stopped',
        link,
        namespace: namespaces.has(h.netns),
      };
    }),
  );
  return {
    prefix: state.prefix,
    home: state.home,
    sshConfig: `${state.home}/.ssh/config`,
    tcNetns: state.tcNetns,
    internetNetns: state.internetNetns,
    internetIp: state.internetIp,
    hosts,
  };
}
