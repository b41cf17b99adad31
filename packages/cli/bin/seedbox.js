#!/usr/bin/env -S node --openssl-legacy-provider
// The `seedbox` command. The code lives in dist/ (built by `npm run build`);
// this file only exists so the bin is executable without a build step
// touching file modes.
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
