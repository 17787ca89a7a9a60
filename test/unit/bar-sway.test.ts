import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../client/towerctl.js';
import { hostRules, swayRules } from '../../client/sway/rules.js';

const red = { code: 31, name: 'Red', hex: '#cd0000' };

describe('towerctl sway rules', () => {
  it('labels Wayland and Xwayland windows of a host with its colour and keeps their title bar', () => {
    expect(hostRules({ name: 'work', color: red }, { border: 3 })).toEqual([
      'for_window [app_id="^tower-work$"] border normal 3',
      `for_window [app_id="^tower-work$"] title_format "<span background='#cd0000' foreground='#ffffff'> work </span> %title"`,
      'for_window [class="^tower-work$"] border normal 3',
      `for_window [class="^tower-work$"] title_format "<span background='#cd0000' foreground='#ffffff'> work </span> %title"`,
    ]);
  });

  it('every line is a comment or a rule with balanced quotes; bad names and colours never reach the config', () => {
    const out = swayRules(
      [
        { name: 'router', color: { code: 39, name: 'White', hex: '#ffffff' } },
        { name: 'evil"] exec rm -rf ~ #', color: red },
        { name: 'web', color: { code: 1, name: 'x\nexec boom', hex: "#fff' onload='x" } },
      ],
      { border: 2 },
    );
    const lines = out.trimEnd().split('\n');
    for (const l of lines) {
      expect(l.startsWith('#') || l.startsWith('for_window [')).toBe(true);
      if (!l.startsWith('#')) expect(l.split('"').length % 2).toBe(1);
    }
    expect(out).not.toContain('rm -rf');
    expect(out).not.toContain('boom');
    expect(out).toContain("title_format \"<span background='#ffffff' foreground='#000000'> router </span> %title\"");
    // the unusable colour falls back to white, still a valid rule
    expect(out).toContain(`[app_id="^tower-web$"] title_format "<span background='#ffffff'`);
    expect(lines.filter((l) => l.startsWith('for_window'))).toHaveLength(8);
  });

  it('with no hosts prints only the comments', () => {
    expect(swayRules([], { border: 3 }).split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([]);
  });

  it('the sway snippet uses only towerctl commands that exist, and runs the bar', () => {
    const conf = readFileSync(new URL('../../client/sway/tower.conf', import.meta.url), 'utf8');
    expect(conf).toMatch(/^\s*status_command towerctl bar --format i3bar$/m);
    const program = buildProgram();
    const uses = [...conf.matchAll(/^[^#\n]*?\btowerctl ([^,\n]+)/gm)].map((m) => m[1]!.trim().split(/\s+/));
    expect(uses.length).toBeGreaterThanOrEqual(6);
    for (const words of uses) {
      let cmd: Command = program;
      for (const w of words) {
        if (w.startsWith('-') || cmd.commands.length === 0) break;
        const sub = cmd.commands.find((c) => c.name() === w || c.aliases().includes(w));
        expect(sub, `towerctl ${words.join(' ')}`).toBeDefined();
        cmd = sub!;
      }
      expect(cmd).not.toBe(program);
    }
    // commands that do not exist yet stay commented out
    expect(conf).not.toMatch(/^[^#\n]*towerctl (run)\b/m);
    expect(conf).toMatch(/^bindsym \$mod\+Ctrl\+c exec towerctl clip copy --focused$/m);
  });
});
