import type { FilesAction } from '../../../protocol/index.js';

export interface PolicyRule {
  from: string;
  to: string;
  action: FilesAction;
  yes: boolean;
}

/** An end of a transfer as the policy sees it: its name (`thinclient` for the thin client) and its role. */
export interface PolicyEnd {
  name: string;
  role: 'online' | 'offline' | 'router' | 'thinclient';
}

export interface Decision {
  action: FilesAction;
  /** whether `--yes` may answer an `ask` */
  yes: boolean;
  /** index of the rule that matched; null: none did (ask) */
  rule: number | null;
}

const matches = (pattern: string, end: PolicyEnd) => pattern === end.name || pattern === end.role;

/** files.policy: the first rule whose `from` names the source (by name or role) and `to` the target wins; none: ask. */
export function decide(rules: readonly PolicyRule[], from: PolicyEnd, to: PolicyEnd): Decision {
  for (const [i, r] of rules.entries()) {
    if (matches(r.from, from) && matches(r.to, to)) return { action: r.action, yes: r.yes, rule: i };
  }
  return { action: 'ask', yes: false, rule: null };
}
