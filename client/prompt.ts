import { ask } from './confirm-typed.js';
import { UsageError } from './context.js';

/**
 * Ask a yes/no question on the terminal. Without a terminal there is nobody to ask: the caller must have been
 * given --yes, so this is a usage error rather than a silent "no" or "yes".
 */
export async function confirm(question: string, flag = '--yes'): Promise<boolean> {
  if (!process.stdin.isTTY) throw new UsageError(`stdin is not a terminal; pass ${flag} to confirm`);
  // not node:readline: a dynamic import of a built-in fails inside the bundled towerctl (see ask)
  const answer = await ask(`${question} [y/N] `);
  return /^y(es)?$/i.test(answer.trim());
}
