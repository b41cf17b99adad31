// SHA-1 of 256 MiB in 1 MiB pieces: inline on the event loop vs the worker
// pool, and how long the event loop is blocked in each case.
//
//   npx tsc -p services/disk-writer/tsconfig.json && node services/disk-writer/bench/hash-bench.mjs [MiB] [threads]
//
// It imports dist/ because Node 20 cannot run the TypeScript sources.
// "loop busy" is event-loop utilisation over the run (time the loop was not
// idle), "in hash()" the time spent inside the hash() calls themselves, and
// "max delay" the worst event-loop delay a 1 ms ticker saw: how late a
// socket's data would be handled at worst.
//
// Measured on the 2-core dev VM (SHA-NI, node 20.20, load ~2 from others;
// ranges over a few runs), 256 MiB:
//   inline                      165-230 ms   loop busy 165-230 ms (all of it)   max delay 6-40 ms
//   pool(1), transferred        168-214 ms   loop busy  18-38 ms                max delay 2-8 ms
//   pool(1), SharedArrayBuffer  175-229 ms   loop busy  21-39 ms                max delay 5-8 ms
//   pool(1), copied once        204-339 ms   loop busy  86-169 ms               max delay 7-14 ms
// A 1 MiB piece costs ~0.7 ms of SHA-1: on two cores the pool buys no
// throughput, it takes the hashing off the event loop. A pool of 2 on 2
// cores only makes the threads fight the loop (busy 110-150 ms).
import { randomFillSync } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { clearInterval, setImmediate, setInterval, setTimeout } from 'node:timers';
import { InlineSha1, Sha1Pool } from '../dist/index.js';

const MiB = 1024 * 1024;
const totalMiB = Number(process.argv[2] ?? 256);
const threads = Number(process.argv[3] ?? Math.max(1, availableParallelism() - 1));
const PIECE = MiB;
const PIECES = totalMiB;
const IN_FLIGHT = 8;

const template = randomFillSync(Buffer.allocUnsafeSlow(PIECE));

/** Pieces as the peer-worker holds them: one ArrayBuffer each (transferred to the pool). */
const ownedPieces = () =>
  Array.from({ length: PIECES }, () => {
    const b = Buffer.allocUnsafeSlow(PIECE);
    b.set(template);
    return [b];
  });
/** Pieces as 64 views of 16 KiB into one SharedArrayBuffer each (posted as they are). */
const sharedPieces = () =>
  Array.from({ length: PIECES }, () => {
    const sab = new SharedArrayBuffer(PIECE);
    new Uint8Array(sab).set(template);
    return Array.from({ length: PIECE / 16384 }, (_, i) => new Uint8Array(sab, i * 16384, 16384));
  });
/** Pieces as views into a larger buffer, as a NATS message would hold them (copied once). */
const viewPieces = () =>
  Array.from({ length: PIECES }, () => {
    const msg = Buffer.allocUnsafeSlow(PIECE + 64);
    msg.set(template, 64);
    return [msg.subarray(64)];
  });

async function run(label, hasher, pieces) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const ticker = setInterval(() => {}, 1);
  await new Promise((r) => setTimeout(r, 20));
  h.enable();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  let inHash = 0;
  let next = 0;
  const worker = async () => {
    while (next < pieces.length) {
      const p = pieces[next++];
      const s = performance.now();
      const promise = hasher.hash(p);
      inHash += performance.now() - s;
      await promise;
      // Let the ticker run between inline hashes, as a real loop would.
      await new Promise((r) => setImmediate(r));
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const wall = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  h.disable();
  clearInterval(ticker);
  console.log(
    `${label.padEnd(34)} ${wall.toFixed(0).padStart(5)} ms  ${((totalMiB / wall) * 1000).toFixed(0).padStart(4)} MiB/s  ` +
      `loop busy ${elu.active.toFixed(0).padStart(5)} ms  in hash() ${inHash.toFixed(0).padStart(5)} ms  ` +
      `max delay ${(h.max / 1e6).toFixed(1).padStart(5)} ms  p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms`,
  );
}

console.log(`${totalMiB} MiB in 1 MiB pieces, ${IN_FLIGHT} in flight, pool of ${threads} thread(s), node ${process.version}`);
const inline = new InlineSha1();
await run('inline (node:crypto, event loop)', inline, ownedPieces());
const pool = new Sha1Pool(threads);
await pool.hash([Buffer.alloc(1)]); // threads started
await run('pool, transferred ArrayBuffers', pool, ownedPieces());
await run('pool, SharedArrayBuffer views', pool, sharedPieces());
await run('pool, views copied once', pool, viewPieces());
await pool.close();
