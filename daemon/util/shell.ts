/**
 * POSIX shell quoting for strings that a remote login shell will parse. Every byte between single quotes is
 * literal; a single quote itself is closed, escaped and reopened. Safe for spaces, `$`, `;`, backquotes and
 * newlines. (A fish or csh login shell on the host would parse this differently; Tower's hosts use ash/bash.)
 */
export function shellQuote(s: string): string {
  if (s.includes('\0')) throw new Error('a NUL byte cannot be passed through a shell');
  if (/^[A-Za-z0-9_./:=@%+-]+$/.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Quote each argument and join: the result, run by `sh -c`, executes exactly this argv. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
