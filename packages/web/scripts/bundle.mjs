#!/usr/bin/env node
// Bundles the browser app (src/app/main.tsx) into dist/: index.html and
// content-hashed app-HASH.js / app-HASH.css (served as immutable; the
// index is served no-cache and names them), plus the icon. Everything
// the page loads is in dist/: no CDN, nothing fetched at run time.
//
//   node scripts/bundle.mjs          minified, for the build
//   node scripts/bundle.mjs --dev    readable, with inline source maps
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const out = join(root, 'dist');
const dev = process.argv.includes('--dev');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: { app: join(root, 'src/app/main.tsx') },
  outdir: out,
  entryNames: '[name]-[hash]',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  // Browsers of the last few years; nothing older has <dialog>.
  target: ['chrome105', 'firefox105', 'safari15.4'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const files = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = files.find((f) => f.endsWith('.js'));
const css = files.find((f) => f.endsWith('.css'));
if (!js || !css) throw new Error(`esbuild wrote ${files.join(', ')}: expected one .js and one .css`);

// A small icon, so the browser's request for one is answered.
const icon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#2563eb"/><path d="M16 6v14m-6-6 6 6 6-6M8 25h16" stroke="#fff" stroke-width="3" fill="none" stroke-linecap="round" stroke-linejoin="round"/></svg>\n`;
writeFileSync(join(out, 'icon.svg'), icon);

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>seedbox</title>
<link rel="icon" href="icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${css}">
<script type="module" src="${js}"></script>
</head>
<body>
<div id="app"></div>
<noscript>seedbox's web UI needs JavaScript.</noscript>
</body>
</html>
`;
writeFileSync(join(out, 'index.html'), html);

const sizes = readdirSync(out).map((f) => f);
console.log(`web UI bundled into ${out}: ${sizes.join(', ')}`);
