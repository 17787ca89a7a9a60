// towerctl runs on every status-bar click and every shell completion, so its start-up time matters
// (`npm run bench` compares it with a bare `node -e ''`):
// 1. esbuild bundles it into one CommonJS file, so Node reads one module instead of a few hundred;
// 2. V8's code cache for that file is written at build time, so a run skips most parsing and compiling.
//    A cache made by another Node version is rejected by V8 and the code is compiled as usual.
import { build } from 'esbuild';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { Script } from 'node:vm';
import { createRequire } from 'node:module';

const body = 'dist/towerctl.body.cjs';
// commander loads child_process for git-style executable subcommands, which towerctl does not use; loading that
// built-in costs ~3 ms per start, so the bundle gets a stub that fails loudly if it is ever called.
const noChildProcess = {
  name: 'no-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      args.importer.includes('node_modules/commander') ? { path: 'child_process', namespace: 'stub' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents: "const no = () => { throw new Error('towerctl has no executable subcommands'); }; module.exports = { spawn: no, execFileSync: no };",
      loader: 'js',
    }));
  },
};
await build({
  entryPoints: ['client/bin.ts'],
  outfile: body,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  logLevel: 'warning',
  plugins: [noChildProcess],
});

const wrapped = `(function (exports, require, module, __filename, __dirname) {${await readFile(body, 'utf8')}\n})`;
await writeFile(body, wrapped);
// run the program once (`--version`, output muted) so that the functions it compiles lazily are cached too
const script = new Script(wrapped, { filename: body });
const argv = process.argv;
const write = process.stdout.write;
process.argv = [process.execPath, 'towerctl', '--version'];
process.stdout.write = () => true;
const mod = { exports: {} };
script.runInThisContext()(mod.exports, createRequire(import.meta.url), mod, body, 'dist');
await new Promise((r) => setTimeout(r, 20));
process.stdout.write = write;
process.argv = argv;
process.exitCode = 0;
await writeFile('dist/towerctl.v8cache', script.createCachedData());

await writeFile(
  'dist/towerctl.cjs',
  `#!/usr/bin/env node
'use strict';
// towerctl: loads the bundled program with V8's code cache (see scripts/bundle-cli.mjs).
const { readFileSync } = require('node:fs');
const { Script } = require('node:vm');
const { join } = require('node:path');
const file = join(__dirname, 'towerctl.body.cjs');
let cachedData;
try {
  cachedData = readFileSync(join(__dirname, 'towerctl.v8cache'));
} catch {
  cachedData = undefined; // no cache: compile normally
}
const script = new Script(readFileSync(file, 'utf8'), { filename: file, cachedData });
const mod = { exports: {} };
script.runInThisContext()(mod.exports, require, mod, file, __dirname);
`,
);
await chmod('dist/towerctl.cjs', 0o755);
