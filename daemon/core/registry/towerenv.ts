import { z } from 'zod';
import { HostName, IPv4 } from '../../../protocol/index.js';

/**
 * tower.env is a POSIX shell fragment (`KEY='value'` per line) that the host installer sources. TowerOS wrote it
 * without escaping; we read every form a POSIX shell would accept for a plain assignment and write values so that
 * `. tower.env` reads back exactly what was written.
 */
export class TowerEnvSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parse assignments; comments and blank lines are skipped, anything else is an error with its line number. */
export function parseTowerEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    // skip blank space and comments between assignments
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    const startLine = line;
    let j = i;
    while (j < n && /[A-Za-z0-9_]/.test(text[j]!)) j++;
    let name = text.slice(i, j);
    if (name === 'export' && (text[j] === ' ' || text[j] === '\t')) {
      i = j;
      while (text[i] === ' ' || text[i] === '\t') i++;
      j = i;
      while (j < n && /[A-Za-z0-9_]/.test(text[j]!)) j++;
      name = text.slice(i, j);
    }
    if (!NAME_RE.test(name) || text[j] !== '=') {
      throw new TowerEnvSyntaxError('expected NAME=value', startLine);
    }
    i = j + 1;
    let value = '';
    // a word: concatenated unquoted, '…' and "…" parts, ending at unquoted blank, newline, ; or #-after-blank
    for (;;) {
      if (i >= n) break;
      const ch = text[i]!;
      if (ch === '\n' || ch === ' ' || ch === '\t' || ch === ';') break;
      if (ch === "'") {
        const end = text.indexOf("'", i + 1);
        if (end < 0) throw new TowerEnvSyntaxError('unterminated single quote', startLine);
        const part = text.slice(i + 1, end);
        line += countNewlines(part);
        value += part;
        i = end + 1;
      } else if (ch === '"') {
        i++;
        for (;;) {
          if (i >= n) throw new TowerEnvSyntaxError('unterminated double quote', startLine);
          const d = text[i]!;
          if (d === '"') {
            i++;
            break;
          }
          if (d === '\\' && i + 1 < n && '$`"\\\n'.includes(text[i + 1]!)) {
            if (text[i + 1] === '\n') line++;
            else value += text[i + 1];
            i += 2;
            continue;
          }
          if (d === '$' || d === '`') throw new TowerEnvSyntaxError('expansions are not supported', startLine);
          if (d === '\n') line++;
          value += d;
          i++;
        }
      } else if (ch === '\\') {
        if (i + 1 >= n) throw new TowerEnvSyntaxError('trailing backslash', startLine);
        if (text[i + 1] === '\n') line++;
        else value += text[i + 1];
        i += 2;
      } else if (ch === '$' || ch === '`') {
        throw new TowerEnvSyntaxError('expansions are not supported', startLine);
      } else {
        value += ch;
        i++;
      }
    }
    // rest of the line may hold only blanks, `;` or a comment
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === ';' || text[i] === '\r')) i++;
    if (i < n && text[i] === '#') while (i < n && text[i] !== '\n') i++;
    if (i < n && text[i] !== '\n') throw new TowerEnvSyntaxError('one assignment per line', startLine);
    out[name] = value;
  }
  return out;
}

function countNewlines(s: string): number {
  let k = 0;
  for (const ch of s) if (ch === '\n') k++;
  return k;
}

/** Single-quote a value for a POSIX shell (TowerOS's `KEY='value'` look, correct for any value). */
export function quoteEnvValue(value: string): string {
  if (value.includes('\0')) throw new Error('tower.env values cannot contain NUL');
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export function serializeTowerEnv(entries: Record<string, string>): string {
  let out = '';
  for (const [k, v] of Object.entries(entries)) {
    if (!NAME_RE.test(k)) throw new Error(`invalid tower.env key ${JSON.stringify(k)}`);
    out += `${k}=${quoteEnvValue(v)}\n`;
  }
  return out;
}

const Bool = z.enum(['true', 'false']);

/** The keys towerd interprets. Every other key is kept as it is and not interpreted. */
export const TowerEnv = z
  .object({
    HOSTNAME: z.optional(HostName),
    USERNAME: z.string().optional(),
    ONLINE: Bool.optional(),
    STATIC_HOST_IP: z.optional(IPv4),
    THIN_CLIENT_IP: z.optional(IPv4),
    TOWER_NETWORK: z.string().optional(),
    ROUTER_IP: z.optional(IPv4),
    COLOR: z
      .string()
      .regex(/^\d{1,3}$/, 'an ANSI colour code such as 31')
      .optional(),
    TOWEROS_VERSION: z.string().optional(),
    PUBLIC_KEY: z.string().optional(),
  })
  .loose();
export type TowerEnv = z.infer<typeof TowerEnv>;
