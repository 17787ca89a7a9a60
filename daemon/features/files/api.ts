import type { Implementation } from '../../core/rpc/dispatch.js';
import type { Transfers } from './service.js';

export function filesMethods(t: Transfers): Implementation {
  return {
    'files.copy': (p, conn) => t.copy(p, conn),
    'files.commit': (p) => t.commit(p.id, p.confirm),
    'files.discard': (p) => t.drop(p.id, 'declined by the user'),
    'files.log': async (p) => ({ transfers: await t.log.tail(p.lines), path: t.log.path }),
  };
}
