// Host clocks: towerd measures each host's clock against the thin client's and sets the clocks of hosts that have
// no time source of their own (daemon/features/clock/).
import * as z from 'zod/mini';
import { HostClock, HostName } from './host.js';

const Hosts = z.optional(z.array(HostName).check(z.maxLength(1000), z.describe('default: every host')));

export const clockMethods = {
  'clock.sync': {
    description:
      'Measure the clocks of connected hosts now (all when none are given) and set those whose policy is `set` and whose offset exceeds ' +
      'clock.maxOffsetMs, as towerd does on every connection and every clock.everyMs. Answers with each host’s clock afterwards.',
    params: z.strictObject({ hosts: Hosts }),
    result: z.object({ hosts: z.array(z.object({ name: HostName, clock: z.nullable(HostClock) })).check(z.maxLength(1000)) }),
  },
} as const;
