import { Argument, type Command } from 'commander';
import { print } from '../context.js';

/** One node of the command tree, as completion scripts need it. */
interface Node {
  path: string;
  words: string[];
  /** the first argument is an existing host name: complete from `towerctl host list --names` */
  hostArg: boolean;
}

const HOST_ARGS = new Set(['host', 'hosts']);

function walk(cmd: Command, prefix: string, out: Node[]): void {
  const subs = cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
  const words = [
    ...subs.flatMap((c) => [c.name(), ...c.aliases()]),
    ...cmd.options.flatMap((o) => [o.long, o.short].filter((x): x is string => Boolean(x))),
    '--help',
  ];
  const args = (cmd as Command & { registeredArguments: readonly Argument[] }).registeredArguments;
  out.push({ path: prefix, words, hostArg: args.length > 0 && HOST_ARGS.has(args[0]!.name()) });
  for (const c of subs) for (const n of [c.name(), ...c.aliases()]) walk(c, prefix ? `${prefix} ${n}` : n, out);
}

function bash(nodes: Node[]): string {
  const cases = nodes
    .map((n) => `    "${n.path}") opts="${n.words.join(' ')}"; host=${n.hostArg ? 1 : 0} ;;`)
    .join('\n');
  const paths = nodes.map((n) => `"${n.path}"`).join(' ');
  return `# bash completion for towerctl; load with: source <(towerctl completion bash)
_towerctl() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" w i opts="" host=0
  local -a known=(${paths})
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ $w == -* ]] && continue
    local cand="\${path:+$path }$w" k
    for k in "\${known[@]}"; do [[ $k == "$cand" ]] && { path="$cand"; break; }; done
  done
  case "$path" in
${cases}
  esac
  if [[ $host == 1 && $cur != -* ]]; then opts="$opts $(towerctl host list --names 2>/dev/null)"; fi
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _towerctl towerctl
`;
}

function zsh(nodes: Node[]): string {
  const cases = nodes.map((n) => `    "${n.path}") opts=(${n.words.join(' ')}); host=${n.hostArg ? 1 : 0} ;;`).join('\n');
  const paths = nodes.map((n) => `"${n.path}"`).join(' ');
  return `#compdef towerctl
# zsh completion for towerctl; install as _towerctl in a directory on $fpath, or: source <(towerctl completion zsh)
_towerctl() {
  local path_="" w cand k host=0
  local -a opts known
  known=(${paths})
  for w in \${words[2,CURRENT-1]}; do
    [[ $w == -* ]] && continue
    cand="\${path_:+$path_ }$w"
    for k in $known; do [[ $k == "$cand" ]] && { path_=$cand; break; }; done
  done
  case "$path_" in
${cases}
  esac
  if [[ $host == 1 && \${words[CURRENT]} != -* ]]; then opts+=(\${(f)"$(towerctl host list --names 2>/dev/null)"}); fi
  compadd -- $opts
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _towerctl "$@"; else compdef _towerctl towerctl; fi
`;
}

function fish(nodes: Node[]): string {
  const lines = nodes.map((n) => {
    const words = n.words.map((w) => `'${w}'`).join(' ');
    const hosts = n.hostArg ? ' (towerctl host list --names 2>/dev/null)' : '';
    return `complete -c towerctl -f -n '__towerctl_at "${n.path}"' -a "${words.replace(/"/g, '\\"')}${hosts}"`;
  });
  const paths = nodes.map((n) => `"${n.path}"`).join(' ');
  return `# fish completion for towerctl; install with: towerctl completion fish > ~/.config/fish/completions/towerctl.fish
function __towerctl_at
    set -l known ${paths}
    set -l path ""
    for w in (commandline -opc)[2..-1]
        string match -q -- '-*' $w; and continue
        set -l cand (string trim -- "$path $w")
        contains -- $cand $known; and set path $cand
    end
    test "$path" = "$argv[1]"
end
complete -c towerctl -e
${lines.join('\n')}
`;
}

export function register(program: Command): void {
  program
    .command('completion')
    .description('Print a shell completion script (bash, zsh or fish) to stdout.')
    .addArgument(new Argument('<shell>', 'target shell').choices(['bash', 'zsh', 'fish']))
    .addHelpText(
      'after',
      `
Install:
  bash:  towerctl completion bash > ~/.local/share/bash-completion/completions/towerctl
  zsh:   towerctl completion zsh > "\${fpath[1]}/_towerctl"
  fish:  towerctl completion fish > ~/.config/fish/completions/towerctl.fish
Host names are completed from the running towerd.`,
    )
    .action((shell: 'bash' | 'zsh' | 'fish') => {
      const nodes: Node[] = [];
      walk(program, '', nodes);
      print(shell === 'bash' ? bash(nodes) : shell === 'zsh' ? zsh(nodes) : fish(nodes));
    });
}
