#!/usr/bin/env -S node --openssl-legacy-provider --max-semi-space-size=4
// The `seedbox` command. The code lives in dist/ (built by `npm run build`);
// this file only exists so the bin is executable without a build step
// touching file modes.
// --openssl-legacy-provider: RC4, which message stream encryption needs.
// --max-semi-space-size=4: a young generation of 4 MiB semi-spaces instead
// of V8's 16. Almost everything the engine allocates per block dies young,
// so the smaller nursery costs no CPU, and it keeps 25-70 MiB less resident
// (bench leech-1g, docs/BENCHMARKS.md). The image sets the same in NODE_OPTIONS.
import { main } from '../dist/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`seedbox: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
