#!/usr/bin/env node
// `npm run fuzz`: bundles fuzz/main.ts (the workspace packages from their
// TypeScript sources, through the "source" export condition, as vitest
// reads them) with esbuild, the bundler packages/web already builds with,
// and runs it. The bundle goes under node_modules/.cache, so nothing is
// written to the tree; npm dependencies stay outside it and load from
// node_modules as usual. See docs/FUZZING.md.
//
//   npm run fuzz -- [--target a,b] [--cases N] [--seed N] [--case I [--out FILE]] [--jobs N] [--json FILE] [--list]
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'node_modules', '.cache', 'seedbox-fuzz');
// One bundle per run, so that a run started while another is going (a
// --case replay, say) never swaps the code under the other's new workers.
const outfile = join(outDir, `main-${process.pid}.mjs`);
mkdirSync(outDir, { recursive: true });
process.on('exit', () => rmSync(outfile, { force: true }));

/** npm packages are imported at run time, not bundled; only the workspace's own code (@seedbox/*, relative paths) is. */
const externalNpmPackages = {
  name: 'external-npm-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@seedbox/') ? undefined : { path: args.path, external: true }));
  },
};

await build({
  entryPoints: [join(root, 'fuzz', 'main.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  conditions: ['source'],
  sourcemap: 'inline',
  logLevel: 'warning',
  plugins: [externalNpmPackages],
});
// Stack traces of crashes then name the TypeScript sources, not the bundle.
process.setSourceMapsEnabled(true);
await import(pathToFileURL(outfile).href);
