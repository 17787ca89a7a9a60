/**
 * POSIX shell quoting for strings that a remote login shell will parse. Every byte between single quotes is
 * literal; a single quote itself is closed, escaped and reopened. Safe for spaces, `$`, `;`, backquotes and
 * newlines. (A fish or csh login shell on the host would parse this differently; Tower's hosts use ash/bash.)
 */
export function shellQuote(s: string): string {
  if (s.includes('\0')) throw new Error('a NUL byte cannot be passed through a shell');
  if (/^[A-Za-z0-9_./:=@%+-]+$/.test(s)) return s;
  return quoted(s);
}

function quoted(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * Words a shell reads as syntax when they come first, not as a command name: POSIX's reserved words and those of
 * bash, ksh and zsh. Quoting one makes it an ordinary word, which the shell then runs as a command.
 */
const RESERVED = new Set([
  ...['case', 'do', 'done', 'elif', 'else', 'esac', 'fi', 'for', 'if', 'in', 'then', 'until', 'while'],
  ...['coproc', 'function', 'select', 'time', 'foreach', 'end', 'repeat', 'nocorrect', 'noglob'],
]);

/**
 * Quoting for the first word of a command line. A bare `A=1` there is an assignment and a bare `if` a keyword,
 * so either would change what runs; quoted, each is looked up as the command it names.
 */
export function shellQuoteCommand(s: string): string {
  if (s.includes('\0')) throw new Error('a NUL byte cannot be passed through a shell');
  if (/^[A-Za-z0-9_./:@%+-]+$/.test(s) && !RESERVED.has(s)) return s;
  return quoted(s);
}

/** Quote each argument and join: the result, run by `sh -c`, executes exactly this argv. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map((a, i) => (i === 0 ? shellQuoteCommand(a) : shellQuote(a))).join(' ');
}
