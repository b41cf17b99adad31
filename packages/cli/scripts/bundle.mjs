// Bundles the CLI (dist/main.js and every @seedbox package it reaches) into
// dist/bundle/: a few chunks, one per command's dynamic import, instead of
// ~150 modules. Node 20 has no compile cache, and resolving, reading and
// compiling each module file is most of a short command's time: a 1 MiB
// `seedbox download` took 0.34-0.35 s from the modules and 0.28-0.29 s from
// the bundle (docs/BENCHMARKS.md). `npm run build` runs this after tsc;
// bin/seedbox.js runs the bundle unless a package was compiled after it.
//
// Other packages (bencode, nats, @grpc/grpc-js, prom-client...) stay
// imports of node_modules, as does @seedbox/web: it finds its assets from
// its own file's URL. Nothing else of ours reads files beside itself.
import { build } from 'esbuild';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${cli}dist/bundle`;

rmSync(outdir, { recursive: true, force: true });
const { metafile } = await build({
  entryPoints: [`${cli}dist/main.js`],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Stack traces name the TypeScript sources (with --enable-source-maps).
  sourcemap: 'linked',
  logLevel: 'warning',
  metafile: true,
  plugins: [
    {
      name: 'only-our-packages',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (a) => (a.path.startsWith('@seedbox/') && a.path !== '@seedbox/web' ? undefined : { external: true }));
      },
    },
  ],
});

// The build records of the packages bundled: bin/seedbox.js falls back to
// the modules when one is newer than the bundle (a `tsc -b` since).
const records = new Set();
for (const input of Object.keys(metafile.inputs)) {
  const at = resolve(input).lastIndexOf('/dist/');
  if (at < 0) continue;
  const record = join(resolve(input).slice(0, at), 'dist', '.tsbuildinfo');
  if (existsSync(record)) records.add(relative(outdir, record));
}
writeFileSync(join(outdir, 'built-from.json'), `${JSON.stringify([...records].sort(), null, 2)}\n`);
