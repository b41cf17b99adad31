#!/usr/bin/env node
// The Dockerfile's file shuffling, in node because the build stage may have
// no coreutils (scripts/make-base-image.sh gives it only node, npm and sh).
// The workspace list comes from the root package.json, so a new workspace
// needs no change here or in the Dockerfile.
//
//   node scripts/docker-workspace.mjs manifests OUT
//     package.json + package-lock.json of the root and every workspace, at
//     their paths: the input of `npm ci`, copied on their own so that the
//     install layer stays cached until a dependency changes.
//
//   node scripts/docker-workspace.mjs collect OUT
//     what the runtime image needs, after `npm run build` and
//     `npm prune --omit=dev`: the root package.json and node_modules (the
//     workspace links kept as links), and for each workspace its
//     package.json, its node_modules if it has one, and what its "files"
//     field publishes (dist, and bin for the CLI), without *.tsbuildinfo.
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = process.cwd();

function readJson(path) {
  return JSON.parse(readFileSync(join(root, path), 'utf8'));
}

/** Workspace folders, relative to the root; `dir/*` globs expanded. */
function workspaces() {
  const patterns = readJson('package.json').workspaces ?? [];
  const dirs = [];
  for (const pattern of patterns) {
    if (pattern.endsWith('/*')) {
      const parent = pattern.slice(0, -2);
      for (const entry of readdirSync(join(root, parent), { withFileTypes: true })) {
        if (entry.isDirectory() && existsSync(join(root, parent, entry.name, 'package.json'))) {
          dirs.push(`${parent}/${entry.name}`);
        }
      }
    } else if (pattern.includes('*')) {
      throw new Error(`workspace pattern ${pattern}: only "dir/*" globs are supported here`);
    } else {
      dirs.push(pattern);
    }
  }
  return dirs;
}

function isEmptyDir(path) {
  const stat = lstatSync(path);
  return stat.isDirectory() && readdirSync(path).length === 0;
}

function copy(rel, out, { required = true } = {}) {
  const src = join(root, rel);
  if (!existsSync(src)) {
    if (required) throw new Error(`${rel} is missing (did the build run?)`);
    return;
  }
  mkdirSync(dirname(join(out, rel)), { recursive: true });
  cpSync(src, join(out, rel), {
    recursive: true,
    // node_modules/@seedbox/* are relative links to the workspaces: keep
    // them relative so they resolve in the image's /app too.
    verbatimSymlinks: true,
    // npm prune leaves the scope folders of what it removed behind, empty.
    filter: (path) => !path.endsWith('.tsbuildinfo') && !isEmptyDir(path),
  });
}

const [command, out] = process.argv.slice(2);
if (!out || (command !== 'manifests' && command !== 'collect')) {
  console.error('usage: docker-workspace.mjs manifests|collect OUT');
  process.exit(2);
}

if (command === 'manifests') {
  copy('package.json', out);
  copy('package-lock.json', out);
  for (const ws of workspaces()) copy(`${ws}/package.json`, out);
} else {
  copy('package.json', out);
  copy('node_modules', out);
  for (const ws of workspaces()) {
    copy(`${ws}/package.json`, out);
    copy(`${ws}/node_modules`, out, { required: false });
    for (const entry of readJson(`${ws}/package.json`).files ?? ['dist']) copy(`${ws}/${entry}`, out);
  }
}
