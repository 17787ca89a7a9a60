// The command a right click on a host runs. It is a template split into words here, once, and run without a
// shell: the host name only ever becomes (part of) one argv element, whatever it contains.

/**
 * foot is sway's default terminal (`set $term foot` in its stock config) and `--hold` keeps the window open after
 * `towerctl host show` prints, with no shell in between. The app id lets a sway rule float the window
 * (client/sway/tower.conf); it is not of the form tower-NAME, so host colour rules never match it.
 */
export const DEFAULT_DETAILS_CMD = 'foot --app-id=towerctl-details --hold towerctl host show {host}';
export const HOST_PLACEHOLDER = '{host}';

export class TemplateError extends Error {}

/**
 * Split a command line into words the way a POSIX shell would for plain words and quotes ('…' literal, "…" with
 * \" and \\, a backslash outside quotes escapes the next character). No variables, globs or substitutions:
 * nothing is ever evaluated.
 */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new TemplateError('unterminated single quote');
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      inWord = true;
      for (i++; ; i++) {
        if (i >= line.length) throw new TemplateError('unterminated double quote');
        const d = line[i]!;
        if (d === '"') break;
        if (d === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) word += line[++i];
        else word += d;
      }
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new TemplateError('a backslash at the end');
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** The argv for one host: {host} replaced in every word, or the name appended when no word has {host}. */
export function detailsArgv(template: readonly string[], host: string): string[] {
  if (!template.some((w) => w.includes(HOST_PLACEHOLDER))) return [...template, host];
  return template.map((w) => w.split(HOST_PLACEHOLDER).join(host));
}

/**
 * Start the command and do not wait for it. It gets its own process group, so the bar's end (swaybar sends
 * SIGTERM to the bar's group) does not close a details window, and no stdout: ours is the bar protocol.
 */
export function launch(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  // loaded on first click only: child_process costs every towerctl start a few ms (scripts/bundle-cli.mjs), and
  // import() is not available in the bundle, which runs as a vm.Script with a code cache
  const { spawn } = process.getBuiltinModule('node:child_process');
  const [cmd, ...args] = argv;
  if (!cmd) throw new TemplateError('the details command is empty');
  return new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'ignore', 'inherit'], env });
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
    child.once('error', reject);
  });
}
