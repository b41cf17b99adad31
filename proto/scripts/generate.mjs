#!/usr/bin/env node
// Generates TypeScript from proto/ with buf and ts-proto (both npm packages,
// so no system protoc is needed). With --check it generates into a scratch
// folder and fails when the committed src/gen differs: CI catches stale code.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const protoDir = dirname(dirname(fileURLToPath(import.meta.url)));
const buf = join(protoDir, '..', 'node_modules', '.bin', 'buf');
const check = process.argv.includes('--check');

function generate(outDir) {
  rmSync(join(protoDir, 'src', 'gen'), { recursive: true, force: true });
  execFileSync(buf, ['generate', '--template', 'buf.gen.yaml'], { cwd: protoDir, stdio: 'inherit' });
  if (outDir) {
    cpSync(join(protoDir, 'src', 'gen'), outDir, { recursive: true });
  }
}

function listFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

if (!check) {
  generate();
  console.log('generated proto/src/gen');
} else {
  const committed = mkdtempSync(join(tmpdir(), 'seedbox-gen-committed-'));
  const fresh = mkdtempSync(join(tmpdir(), 'seedbox-gen-fresh-'));
  try {
    cpSync(join(protoDir, 'src', 'gen'), committed, { recursive: true });
    generate(fresh);
    // Put the committed copy back so --check never changes the tree.
    rmSync(join(protoDir, 'src', 'gen'), { recursive: true, force: true });
    cpSync(committed, join(protoDir, 'src', 'gen'), { recursive: true });
    const a = listFiles(committed);
    const b = listFiles(fresh);
    const stale = [];
    for (const f of new Set([...a, ...b])) {
      const x = a.includes(f) ? readFileSync(join(committed, f), 'utf8') : undefined;
      const y = b.includes(f) ? readFileSync(join(fresh, f), 'utf8') : undefined;
      if (x !== y) stale.push(f);
    }
    if (stale.length > 0) {
      console.error(`proto/src/gen is stale (${stale.join(', ')}): run \`npm run generate\` and commit the result`);
      process.exit(1);
    }
    console.log('proto/src/gen is up to date');
  } finally {
    rmSync(committed, { recursive: true, force: true });
    rmSync(fresh, { recursive: true, force: true });
  }
}
