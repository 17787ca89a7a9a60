import { readFile, stat } from 'node:fs/promises';
import { ExitCode } from '../protocol/errors.js';
import { UsageError } from './context.js';

const MAX_PASSPHRASE_FILE = 4096;

/**
 * Read a secret from the terminal with echo off (raw mode: nothing typed reaches the screen or a scrollback),
 * with backspace and Ctrl-U for editing and Ctrl-C to give up. Without a terminal there is nobody to ask.
 */
export function askHidden(question: string, flag: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new UsageError(`stdin is not a terminal; pass ${flag}`);
  // echo off before the prompt shows: an answer typed the moment it appears must not be echoed
  stdin.setRawMode(true);
  process.stderr.write(question);
  return new Promise((resolve) => {
    let buf: string[] = [];
    const end = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (d: Buffer | string) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          end();
          return resolve(buf.join(''));
        }
        if (ch === '\u0003') {
          end();
          process.exit(ExitCode.Interrupted);
        }
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
        else if (ch === '\u0015') buf = [];
        else if (ch >= ' ') buf.push(ch);
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

/**
 * A passphrase from a file: its content without one trailing newline. A file others may read is named in a
 * warning (the passphrase is only as secret as the file).
 */
export async function passphraseFromFile(path: string): Promise<string> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw new UsageError(`cannot read the passphrase file ${path}: ${(err as Error).message}`);
  }
  if (!st.isFile() || st.size > MAX_PASSPHRASE_FILE) throw new UsageError(`${path}: not a regular file of at most ${MAX_PASSPHRASE_FILE} bytes`);
  if (st.mode & 0o077) process.stderr.write(`towerctl: warning: ${path} can be read by other users (mode ${(st.mode & 0o777).toString(8)})\n`);
  const text = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  if (!text) throw new UsageError(`${path} is empty`);
  if (/[\r\n]/.test(text)) throw new UsageError(`${path}: the passphrase is the file's first and only line`);
  return text;
}
