import type { AppManager } from './manager.js';
import type { Implementation } from '../../core/rpc/dispatch.js';

export function appMethods(apps: AppManager): Implementation {
  return {
    'apps.run': ({ host, argv, env }) => apps.run(host, argv, env),
    'apps.list': ({ host }) => ({ apps: apps.list(host) }),
    'apps.close': async ({ id }) => ({ app: await apps.close(id) }),
  };
}
