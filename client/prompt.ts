import { UsageError } from './context.js';

/**
 * Ask a yes/no question on the terminal. Without a terminal there is nobody to ask: the caller must have been
 * given --yes, so this is a usage error rather than a silent "no" or "yes".
 */
export async function confirm(question: string, flag = '--yes'): Promise<boolean> {
  if (!process.stdin.isTTY) throw new UsageError(`stdin is not a terminal; pass ${flag} to confirm`);
  // loaded here, not at start-up: only confirmations need it
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
