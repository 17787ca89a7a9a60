import { UsageError } from './context.js';
import { escapeControls } from './render.js';

/**
 * Print a question on stderr and read one line of the answer from the terminal. The terminal's own line editing
 * (cooked mode) does the echoing and erasing, so no readline is needed: towerctl is one bundle run from V8's code
 * cache, where a dynamic import of a built-in such as node:readline is not available.
 */
export function ask(question: string): Promise<string> {
  process.stderr.write(question);
  const stdin = process.stdin;
  return new Promise((resolve) => {
    let buf = '';
    const done = (answer: string) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
      resolve(answer.replace(/\r$/, ''));
    };
    const onData = (d: Buffer | string) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(buf.slice(0, nl));
    };
    const onEnd = () => {
      process.stderr.write('\n');
      done(buf);
    };
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.resume();
  });
}

/**
 * Ask the user to type a word (a device or host name) before something that cannot be undone. A y/N question is
 * answered by reflex; typing `sdb` makes the user read which device is about to be wiped. Without a terminal there
 * is nobody to ask: the caller must have been given --yes.
 */
export async function confirmTyped(warning: string, expected: string, flag = '--yes'): Promise<boolean> {
  if (!process.stdin.isTTY) throw new UsageError(`stdin is not a terminal; pass ${flag} to confirm`);
  const answer = await ask(`${warning}\nType ${escapeControls(expected)} to confirm: `);
  return answer.trim() === expected;
}
