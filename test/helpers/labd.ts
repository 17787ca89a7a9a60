import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TowerClient } from '../../client/rpc.js';
import { labUp, type LabOptions, type RunningLab } from '../lab/lab.js';
import { startDaemon, tempHome, type RunningDaemon } from './towerd.js';

export interface LabDaemon {
  lab: RunningLab;
  d: RunningDaemon;
  client: TowerClient;
  close(): Promise<void>;
}

/**
 * A lab plus towerd in its thin-client namespace, with every host online. `tag` keeps lab prefixes of
 * different test files apart; `settings` is written to towerd.json first.
 */
export async function labDaemon(tag: string, opts: Partial<LabOptions> = {}, settings?: object): Promise<LabDaemon> {
  const lab = await labUp({ prefix: `twlt${process.pid % 10000}${tag}`, online: 1, offline: 0, ...opts, home: opts.home ?? tempHome(`tower-${tag}-`) });
  try {
    if (settings) {
      mkdirSync(join(lab.home, '.config', 'tower'), { recursive: true });
      writeFileSync(join(lab.home, '.config', 'tower', 'towerd.json'), JSON.stringify(settings));
    }
    const d = await startDaemon({ home: lab.home, spawnPrefix: lab.tcSpawnPrefix() });
    const client = await TowerClient.connect(d.socket, { validate: true });
    const deadline = Date.now() + 15_000;
    while ((await client.call('status')).hosts.some((h) => h.state !== 'online')) {
      if (Date.now() > deadline) throw new Error(`hosts did not come online: ${JSON.stringify((await client.call('status')).hosts.map((h) => [h.name, h.state, h.lastError]))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return {
      lab,
      d,
      client,
      close: async () => {
        client.close();
        await d.stop();
        await lab.down();
      },
    };
  } catch (err) {
    await lab.down();
    throw err;
  }
}
