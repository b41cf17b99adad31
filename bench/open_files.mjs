// What letting go of a write's files costs the event loop: one write holds
// every file its piece covers (a 4 MiB piece of 1 KiB files covers 4,000),
// over the torrent's cap of open files, then lets each go, and each let-go
// closes what is over the cap. No disk: descriptors and closes are faked,
// so what is timed is the bookkeeping in OpenFiles and the process's
// FileHandlePool alone.
//
//   npm run build && node bench/open_files.mjs [--checkout DIR] [--files 1000,4000,16000]
//
// --checkout: the built checkout to time (default this one), so that a
// build from before a change can be timed beside this one.
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    checkout: { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
    files: { type: 'string', default: '1000,2000,4000,8000,16000' },
  },
});
const dist = (file) => pathToFileURL(resolve(args.checkout, 'packages/storage/dist', file)).href;
const { OpenFiles } = await import(dist('open-files.js'));
const { FileHandlePool } = await import(dist('file-handles.js'));

/** The torrent's default cap (DEFAULT_MAX_OPEN_FILES) and the process's (DEFAULT_PROCESS_MAX_OPEN_FILES). */
const TORRENT_CAP = 256;
const PROCESS_CAP = 512;

function letGoTime(count) {
  const pool = new FileHandlePool({ maxOpen: PROCESS_CAP });
  const files = new OpenFiles(TORRENT_CAP, pool, { closeFile: async () => {} });
  const held = [];
  for (let i = 0; i < count; i++) held.push([i, files.hold(i, async () => 1000 + i)]);
  const started = performance.now();
  for (const [i, entry] of held) files.letGo(i, entry);
  return performance.now() - started;
}

const counts = args.files.split(',').map(Number);
letGoTime(counts[0]); // warm-up: the JIT, not the bookkeeping
for (const n of counts) console.log(`${String(n).padStart(6)} files held by one write, let go: ${letGoTime(n).toFixed(1)} ms`);
process.exit(0);
