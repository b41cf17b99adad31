// What a torrent of many files costs before its first byte: parsing the
// .torrent (parseMetainfo) and laying out its files' paths (filePaths), in
// a fresh process each time, with the flags the `seedbox` launcher gives
// node: a start pays them cold, before the JIT has warmed up and while the
// young generation is still small. The torrent is made here, in memory:
// N files of 1 KiB in folders of 100, 256 KiB pieces (no data is hashed;
// the piece hashes are zeros, which neither step checks).
//
//   npm run build && node bench/torrent_start.mjs [--checkout DIR] [--files 1000,10000,100000] [--runs 5]
//
// --checkout: the built checkout to time (default this one), so that a
// build from before a change can be timed beside this one.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    checkout: { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
    files: { type: 'string', default: '1000,10000,100000' },
    runs: { type: 'string', default: '5' },
    child: { type: 'string' },
  },
});

if (args.child !== undefined) {
  // One measurement, in this fresh process.
  const dist = (pkg, file) => pathToFileURL(resolve(args.checkout, 'packages', pkg, 'dist', file)).href;
  const { parseMetainfo, encodeBencode } = await import(dist('protocol', 'index.js'));
  const { filePaths } = await import(dist('storage', 'file-paths.js'));
  const count = Number(args.child);
  const files = [];
  for (let i = 0; i < count; i++) files.push(new Map([['length', 1024], ['path', [`d${String(Math.floor(i / 100)).padStart(4, '0')}`, `f${String(i).padStart(6, '0')}.bin`]]]));
  const pieces = Math.ceil((count * 1024) / 262_144);
  const bytes = encodeBencode(
    new Map([
      ['announce', 'http://127.0.0.1:6969/announce'],
      ['info', new Map([['files', files], ['name', 'many'], ['piece length', 262_144], ['pieces', new Uint8Array(pieces * 20)]])],
    ]),
  );
  const t0 = performance.now();
  const meta = parseMetainfo(bytes);
  const t1 = performance.now();
  filePaths({ name: meta.name, multiFile: meta.multiFile, files: meta.files }, '/srv/downloads');
  const t2 = performance.now();
  process.stdout.write(JSON.stringify({ parse: t1 - t0, paths: t2 - t1, bytes: bytes.length }));
  process.exit(0);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const n of args.files.split(',').map(Number)) {
  const runs = [];
  for (let i = 0; i < Number(args.runs); i++) {
    const out = execFileSync(
      process.execPath,
      ['--max-semi-space-size=4', fileURLToPath(import.meta.url), '--checkout', args.checkout, '--child', String(n)],
      { encoding: 'utf8' },
    );
    runs.push(JSON.parse(out));
  }
  const parse = median(runs.map((r) => r.parse));
  const paths = median(runs.map((r) => r.paths));
  console.log(
    `${String(n).padStart(7)} files (${(runs[0].bytes / 1024).toFixed(0)} KiB .torrent): parseMetainfo ${parse.toFixed(1)} ms, filePaths ${paths.toFixed(1)} ms (medians of ${runs.length} processes)`,
  );
}
