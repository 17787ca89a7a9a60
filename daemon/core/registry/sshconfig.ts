import SSHConfig from 'ssh-config';

/**
 * The host list in OpenSSH config format (~/.local/tower/config). Reading uses the ssh-config parser, so every
 * form OpenSSH accepts (`Key Value`, `Key=Value`, quotes, any case) is understood and `Host *` defaults apply.
 * Writing edits the text block by block, so comments and blocks we do not own stay byte for byte.
 */
export interface ConfigHost {
  name: string;
  hostName: string | undefined;
  user: string | undefined;
  identityFile: string | undefined;
  /** 1-based line of the `Host` directive */
  line: number;
}

interface Directive {
  type: number;
  param?: string;
  value?: unknown;
  config?: Directive[];
  before?: string;
  after?: string;
  content?: string;
}

const WILDCARD_RE = /[*?!]/;

/** Host blocks that name exactly one concrete host; `Host *`, patterns and `Match` blocks are defaults, not hosts. */
export function parseRegistryConfig(text: string): ConfigHost[] {
  const config = SSHConfig.parse(text);
  const lineOfHost = hostLines(text);
  const out: ConfigHost[] = [];
  for (const node of config as unknown as Directive[]) {
    if (node.type !== (SSHConfig.DIRECTIVE as number) || node.param?.toLowerCase() !== 'host') continue;
    const patterns = patternsOf(node.value);
    if (patterns.length !== 1 || WILDCARD_RE.test(patterns[0]!)) continue;
    const name = patterns[0]!;
    const computed = config.compute(name) as Record<string, string | string[] | undefined>;
    const get = (key: string): string | undefined => {
      for (const [k, v] of Object.entries(computed)) {
        if (k.toLowerCase() === key) return Array.isArray(v) ? v[0] : v;
      }
      return undefined;
    };
    out.push({
      name,
      hostName: get('hostname'),
      user: get('user'),
      identityFile: get('identityfile'),
      line: lineOfHost.get(name) ?? 0,
    });
  }
  return out;
}

function patternsOf(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value)) return value.map((v: { val: string }) => v.val);
  return [];
}

const HOST_LINE_RE = /^\s*(host|match)(?:\s*=\s*|\s+)(.*?)\s*$/i;

/** Line number of each single-pattern `Host` directive. */
function hostLines(text: string): Map<string, number> {
  const map = new Map<string, number>();
  text.split('\n').forEach((l, i) => {
    const m = HOST_LINE_RE.exec(l);
    if (m && m[1]!.toLowerCase() === 'host') {
      const pats = m[2]!.replace(/#.*$/, '').trim().split(/\s+/);
      if (pats.length === 1 && pats[0]) map.set(unquote(pats[0]), i + 1);
    }
  });
  return map;
}

function unquote(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

function quoteValue(v: string): string {
  if (/["\n\r]/.test(v)) throw new Error(`value cannot be written to an ssh config: ${JSON.stringify(v)}`);
  return /\s/.test(v) ? `"${v}"` : v;
}

export interface BlockSpec {
  name: string;
  hostName: string;
  user: string;
  identityFile: string;
}

/** The block TowerOS writes for a host, with the same options. */
export function renderHostBlock(b: BlockSpec): string {
  return [
    `Host ${b.name}`,
    `  HostName ${b.hostName}`,
    `  User ${quoteValue(b.user)}`,
    `  IdentityFile ${quoteValue(b.identityFile)}`,
    `  LogLevel FATAL`,
    `  ConnectTimeout 1`,
    '',
  ].join('\n');
}

export function appendHostBlock(text: string, block: string): string {
  if (text.length === 0) return block;
  const sep = text.endsWith('\n\n') ? '' : text.endsWith('\n') ? '\n' : '\n\n';
  return text + sep + block;
}

/** Remove the block of `name` (its Host line up to the next Host/Match line); returns null when there is none. */
export function removeHostBlock(text: string, name: string): string | null {
  const lines = text.split('\n');
  let start = -1;
  for (let i = 0; i < lines.length; i++) {
    const m = HOST_LINE_RE.exec(lines[i]!);
    if (m && m[1]!.toLowerCase() === 'host') {
      const pats = m[2]!.replace(/#.*$/, '').trim().split(/\s+/).map(unquote);
      if (pats.length === 1 && pats[0] === name) {
        start = i;
        break;
      }
    }
  }
  if (start < 0) return null;
  let end = start + 1;
  while (end < lines.length && !HOST_LINE_RE.test(lines[end]!)) end++;
  // the block takes its trailing blank lines with it; what was before and after stays byte for byte
  const joined = [...lines.slice(0, start), ...lines.slice(end)].join('\n');
  return joined.replace(/^\n+/, '');
}
