// towerctl starts on every keypress of a status bar click and every completion: bundle it into one CommonJS
// file so that Node loads one module instead of a few hundred (measured by `npm run bench`).
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';

await build({
  entryPoints: ['client/towerctl.ts'],
  outfile: 'dist/towerctl.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  sourcemap: false,
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
await chmod('dist/towerctl.cjs', 0o755);
