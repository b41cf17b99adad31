#!/usr/bin/env -S node --openssl-legacy-provider --max-semi-space-size=4
// The `seedbox` command. The code lives in dist/ (built by `npm run build`);
// this file only exists so the bin is executable without a build step
// touching file modes.
// --openssl-legacy-provider: RC4, which message stream encryption needs.
// --max-semi-space-size=4: a young generation of 4 MiB semi-spaces instead
// of V8's 16. Almost everything the engine allocates per block dies young,
// so the smaller nursery costs no CPU, and it keeps 25-70 MiB less resident
// (bench leech-1g, docs/BENCHMARKS.md). The image sets the same in NODE_OPTIONS.
import { readFileSync, statSync } from 'node:fs';

const bundle = new URL('../dist/bundle/', import.meta.url);

/**
 * dist/bundle (scripts/bundle.mjs) starts ~60 ms sooner than the ~150
 * modules it is made of; it is run unless it is missing, or a package it
 * holds was compiled after it (a `tsc -b` without the bundle step), when
 * it would be out of date.
 */
function bundleIsCurrent() {
  try {
    const made = statSync(new URL('main.js', bundle)).mtimeMs;
    const records = JSON.parse(readFileSync(new URL('built-from.json', bundle), 'utf8'));
    return records.every((record) => {
      try {
        return statSync(new URL(record, bundle)).mtimeMs <= made;
      } catch {
        return true; // no build record (an installed copy): nothing newer
      }
    });
  } catch {
    return false;
  }
}

const { main } = await import(bundleIsCurrent() ? new URL('main.js', bundle).href : '../dist/main.js');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`seedbox: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
