import { afterEach, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, openSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { open, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import ts from 'typescript';
import { HasherClosedError, HashWorkerError, InlineSha1, Sha1Pool, type Sha1Hasher, type Sha1PoolOptions } from '../src/sha1-pool.js';
import { TempDirs } from './support/fixtures.js';
import { WriteTargetError } from '../src/write-targets.js';

const sha1 = (buffers: readonly Uint8Array[]): Buffer => {
  const h = createHash('sha1');
  for (const b of buffers) h.update(b);
  return h.digest();
};

/** Blocks of `total` random bytes, each a Buffer that owns its ArrayBuffer. */
const ownedBlocks = (total: number, size = 16 * 1024): Buffer[] => {
  const out: Buffer[] = [];
  for (let at = 0; at < total; at += size) out.push(Buffer.from(randomBytes(Math.min(size, total - at))));
  return out;
};

/** The same bytes in blocks that are views into one SharedArrayBuffer. */
const sharedBlocks = (blocks: readonly Uint8Array[]): Uint8Array[] => {
  const sab = new SharedArrayBuffer(blocks.reduce((n, b) => n + b.length, 0));
  let at = 0;
  return blocks.map((b) => {
    const v = new Uint8Array(sab, at, b.length);
    v.set(b);
    at += b.length;
    return v;
  });
};

const threadCount = (): number => (existsSync('/proc/self/task') ? readdirSync('/proc/self/task').length : 0);

const pools: Sha1Hasher[] = [];
const dirs = new TempDirs();
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  await dirs.cleanup();
});
const newPool = (size = 2, options?: Sha1PoolOptions): Sha1Pool => {
  const p = new Sha1Pool(size, options);
  pools.push(p);
  return p;
};

describe.each([
  ['Sha1Pool', () => newPool()],
  ['InlineSha1', () => new InlineSha1()],
])('%s', (_name, make: () => Sha1Hasher) => {
  it('hashes ordinary Buffers, and answers the same bytes', async () => {
    const blocks = ownedBlocks(1024 * 1024 + 123);
    const expected = sha1(blocks);
    const copy = Buffer.concat(blocks);
    const { digest, buffers } = await make().hash(blocks);
    expect(digest.equals(expected)).toBe(true);
    expect(Buffer.concat(buffers).equals(copy)).toBe(true);
  });

  it('hashes views into a SharedArrayBuffer', async () => {
    const shared = sharedBlocks(ownedBlocks(256 * 1024 + 5));
    const { digest, buffers } = await make().hash(shared);
    expect(digest.equals(sha1(shared))).toBe(true);
    expect(buffers).toHaveLength(shared.length);
    buffers.forEach((b, i) => expect(b).toBe(shared[i])); // the caller's views, neither copied nor detached
  });

  it('hashes views into a larger buffer, small pooled Buffers, a mix with shared memory, a repeated buffer and nothing', async () => {
    const h = make();
    const big = randomBytes(100_000);
    const views = [big.subarray(10, 5000), big.subarray(5000, 99_000)];
    expect((await h.hash(views)).digest.equals(sha1(views))).toBe(true);
    const small = [Buffer.from('abc'), Buffer.from('defg')];
    expect((await h.hash(small)).digest.equals(sha1([Buffer.from('abcdefg')]))).toBe(true);
    const owned = ownedBlocks(40_000);
    const mixed = [...sharedBlocks([randomBytes(3000)]), owned[0]!, owned[1]!];
    const expected = sha1(mixed);
    expect((await h.hash(mixed)).digest.equals(expected)).toBe(true);
    const once = Buffer.from(randomBytes(20_000));
    const twice = sha1([once, once]);
    expect((await h.hash([once, once])).digest.equals(twice)).toBe(true);
    expect((await h.hash([])).digest.equals(sha1([]))).toBe(true);
  });

  it('rejects with HasherClosedError after close', async () => {
    const h = make();
    await h.close();
    await expect(h.hash([Buffer.from('x')])).rejects.toThrow(HasherClosedError);
    await expect(h.hash([Buffer.from('x')])).rejects.toThrow('the SHA-1 hasher is closed');
  });
});

describe('Sha1Pool', () => {
  it('moves what it can without copying: shared memory is read in place, whole ArrayBuffers are transferred', async () => {
    const pool = newPool();
    const shared = sharedBlocks(ownedBlocks(64 * 1024));
    const r1 = await pool.hash(shared);
    expect(r1.buffers[0]).toBe(shared[0]); // the caller's views, untouched
    const owned = ownedBlocks(64 * 1024);
    const before = Buffer.concat(owned);
    await pool.hash(owned);
    // Transferred: the caller's views are detached, as PieceSink documents; the bytes came back in the result.
    expect(owned.every((b) => b.byteLength === 0)).toBe(true);
    // Views into a larger buffer are copied, not transferred: the caller's buffer is intact.
    const big = Buffer.from(randomBytes(100_000));
    const snapshot = Buffer.from(big);
    await pool.hash([big.subarray(0, 50_000), big.subarray(50_000)]);
    expect(big.equals(snapshot)).toBe(true);
    expect(before.length).toBe(64 * 1024);
  });

  it('hashes many pieces at once on every thread', async () => {
    const pool = newPool(3);
    const pieces = Array.from({ length: 24 }, () => ownedBlocks(128 * 1024 + 17));
    const expected = pieces.map(sha1);
    const results = await Promise.all(pieces.map((p) => pool.hash(p)));
    results.forEach((r, i) => expect(r.digest.equals(expected[i]!)).toBe(true));
  });

  it('fails the jobs of a worker that dies with HashWorkerError, and replaces it', async () => {
    const pool = newPool(1);
    const slots = (pool as unknown as { slots: Set<{ worker: Worker }> }).slots;
    const pending = expect(pool.hash(ownedBlocks(8 * 1024 * 1024))).rejects.toThrow(HashWorkerError);
    await [...slots][0]!.worker.terminate();
    await pending;
    const blocks = ownedBlocks(10_000);
    const expected = sha1(blocks);
    expect((await pool.hash(blocks)).digest.equals(expected)).toBe(true);
    expect(pool.threads).toBe(1);
  });

  it('refuses a size below one, and an idle time of 0', () => {
    expect(() => new Sha1Pool(0)).toThrow(RangeError);
    expect(() => new Sha1Pool(1, { idleMs: 0 })).toThrow(RangeError);
  });

  it('starts threads as work comes: none before the first hash, an idle one reused before a new one starts', async () => {
    const pool = newPool(3);
    expect(pool.threads).toBe(0);
    for (let i = 0; i < 5; i++) await pool.hash(ownedBlocks(1000));
    expect(pool.threads).toBe(1);
    await Promise.all([1, 2, 3, 4].map(() => pool.hash(ownedBlocks(256 * 1024))));
    expect(pool.threads).toBe(3);
  });

  it('ends a thread idle for idleMs, and starts one again for the next hash', async () => {
    const pool = new Sha1Pool(2, { idleMs: 100 });
    pools.push(pool);
    await Promise.all([pool.hash(ownedBlocks(256 * 1024)), pool.hash(ownedBlocks(256 * 1024))]);
    expect(pool.threads).toBe(2);
    for (let i = 0; i < 100 && pool.threads > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(pool.threads).toBe(0);
    const blocks = ownedBlocks(10_000);
    const expected = sha1(blocks); // before the hash: the blocks are transferred to the thread
    expect((await pool.hash(blocks)).digest.equals(expected)).toBe(true);
    expect(pool.threads).toBe(1);
  });

  it('keeps a thread that gets work again before idleMs', async () => {
    const pool = new Sha1Pool(1, { idleMs: 300 });
    pools.push(pool);
    for (let i = 0; i < 6; i++) {
      await pool.hash(ownedBlocks(1000));
      await new Promise((r) => setTimeout(r, 100));
    }
    // 600 ms in all, never 300 ms idle: the one thread stayed.
    const slots = (pool as unknown as { slots: Set<{ worker: Worker }> }).slots;
    expect(pool.threads).toBe(1);
    expect(slots.size).toBe(1);
  });

  it('rejects pending hashes on close and leaves no thread running', async () => {
    const baseline = threadCount();
    const pool = new Sha1Pool(3);
    await Promise.all([1, 2, 3].map(() => pool.hash(ownedBlocks(64 * 1024))));
    expect(pool.threads).toBe(3);
    const pending = expect(pool.hash(ownedBlocks(8 * 1024 * 1024))).rejects.toThrow(HasherClosedError);
    await pool.close();
    await pending;
    expect(pool.threads).toBe(0);
    // A terminated worker's OS thread may still be exiting for a moment after terminate() resolves.
    if (baseline > 0) {
      for (let i = 0; i < 50 && threadCount() > baseline; i++) await new Promise((r) => setTimeout(r, 20));
      expect(threadCount()).toBeLessThanOrEqual(baseline);
    }
  });

  it('does not keep the process alive while idle', async () => {
    // Run the pool in a plain node process (transpiled: node 20 cannot run
    // TypeScript) that hashes and never calls close(): it must still exit.
    const dir = await dirs.make();
    const modules: [string, string][] = [
      ['sha1-pool.ts', 'sha1-pool.mjs'],
      ['sha1-hasher.ts', 'sha1-hasher.js'],
      ['hash-thread.ts', 'hash-thread.js'],
      ['write-targets.ts', 'write-targets.js'],
    ];
    for (const [from, to] of modules) {
      const source = await readFile(new URL(`../src/${from}`, import.meta.url), 'utf8');
      const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
      // An ES module: its own imports name .js files, which resolve to these.
      await writeFile(join(dir, to), js);
    }
    await writeFile(join(dir, 'package.json'), '{"type":"module"}');
    await writeFile(
      join(dir, 'main.mjs'),
      `import { Sha1Pool } from './sha1-pool.mjs';
       const pool = new Sha1Pool(2);
       const { digest } = await pool.hash([Buffer.from('abc')]);
       console.log(digest.toString('hex'));`,
    );
    const run = spawnSync(process.execPath, [join(dir, 'main.mjs')], { encoding: 'utf8', timeout: 10_000 });
    expect(run.error).toBeUndefined();
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
    expect(run.status).toBe(0);
  });
});

describe('Sha1Pool writing in its thread', () => {
  const piece = randomBytes(40_000);
  const blocks = (): Buffer[] => [Buffer.from(piece.subarray(0, 16_384)), Buffer.from(piece.subarray(16_384))];
  const sha1 = createHash('sha1').update(piece).digest();

  async function fileAt(name: string) {
    return open(join(await dirs.make(), name), 'w+');
  }

  it('hashes, and writes the piece to its targets only when the hash is the one expected', async () => {
    const pool = new Sha1Pool(1);
    try {
      const a = await fileAt('a');
      const b = await fileAt('b');
      // 10,000 bytes at offset 5 of a (sized to 100,000 first), the other 30,000 at offset 0 of b.
      const targets = [
        { fd: a.fd, position: 5, pieceOffset: 0, length: 10_000, sizeTo: 100_000 },
        { fd: b.fd, position: 0, pieceOffset: 10_000, length: 30_000 },
      ];
      const wrong = Buffer.from(sha1);
      wrong[0]! ^= 1;
      const bad = await pool.hashAndWrite(blocks(), wrong, targets);
      expect(bad.match).toBe(false);
      expect((await a.stat()).size).toBe(0);
      expect((await b.stat()).size).toBe(0);
      const good = await pool.hashAndWrite(blocks(), sha1, targets);
      expect(good.match).toBe(true);
      expect(Buffer.concat(good.buffers).equals(piece)).toBe(true);
      const aBytes = await a.readFile();
      expect(aBytes.length).toBe(100_000);
      expect(aBytes.subarray(5, 10_005).equals(piece.subarray(0, 10_000))).toBe(true);
      expect((await b.readFile()).equals(piece.subarray(10_000))).toBe(true);
      await a.close();
      await b.close();
    } finally {
      await pool.close();
    }
  });

  it('writes a piece checked before without hashing it, and reports a failed write with its target, its code and the piece', async () => {
    const pool = new Sha1Pool(1);
    try {
      const c = await fileAt('c');
      expect(Buffer.concat((await pool.writeChecked(blocks(), [{ fd: c.fd, position: 0, pieceOffset: 0, length: 40_000 }])).buffers).equals(piece)).toBe(true);
      expect((await c.readFile()).equals(piece)).toBe(true);
      await c.close();
      const roPath = join(await dirs.make(), 'ro');
      await writeFile(roPath, '');
      const readOnly = await open(roPath, 'r');
      const w = await fileAt('d');
      const err = await pool
        .hashAndWrite(blocks(), sha1, [
          { fd: w.fd, position: 0, pieceOffset: 0, length: 1000 },
          { fd: readOnly.fd, position: 0, pieceOffset: 1000, length: 39_000 },
        ])
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(WriteTargetError);
      const e = err as WriteTargetError;
      expect(e.target).toBe(1);
      expect((e.cause as NodeJS.ErrnoException).code).toBe('EBADF');
      expect(Buffer.concat(e.buffers!).equals(piece)).toBe(true);
      // The target before the failed one was written.
      expect((await w.readFile()).equals(piece.subarray(0, 1000))).toBe(true);
      await readOnly.close();
      await w.close();
    } finally {
      await pool.close();
    }
  });
});

describe('Sha1Pool closing', () => {
  it('fails a pending job only once its thread has stopped: a write in it may still be using a storage descriptor', async () => {
    const pool = new Sha1Pool(1);
    const big = [Buffer.from(randomBytes(16 * 1024 * 1024))];
    const job = pool.hash(big);
    let threadsAtRejection = -1;
    const rejected = job.then(
      () => undefined,
      (e: unknown) => {
        threadsAtRejection = pool.threads;
        return e;
      },
    );
    await pool.close();
    expect(await rejected).toBeInstanceOf(HasherClosedError);
    expect(threadsAtRejection).toBe(0);
  });
});

describe.skipIf(process.platform !== 'linux')('Sha1Pool closing descriptors (closeFile)', () => {
  it('closes them in its thread, along with a job or on their own; on this thread while no thread runs; and those left at close()', async () => {
    const pool = newPool(1);
    const path = join(await dirs.make(), 'f');
    await writeFile(path, 'x');
    const leadsThere = (fd: number): boolean => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === path;
      } catch {
        return false;
      }
    };
    const a = openSync(path, 'r');
    await pool.closeFile(a);
    expect(leadsThere(a)).toBe(false);
    expect(pool.threads).toBe(0); // none started to close a file
    await pool.hash([Buffer.from('x')]);
    const b = openSync(path, 'r');
    await pool.closeFile(b);
    expect(leadsThere(b)).toBe(false);
    const c = openSync(path, 'r');
    const [, hashed] = await Promise.all([pool.closeFile(c), pool.hash([Buffer.from('y')])]);
    expect(hashed.digest.equals(createHash('sha1').update('y').digest())).toBe(true);
    expect(leadsThere(c)).toBe(false);
    const d = openSync(path, 'r');
    const closing = pool.closeFile(d);
    await pool.close();
    await closing;
    expect(leadsThere(d)).toBe(false);
  });
});

describe('Sha1Pool.statFiles', () => {
  it('stats files in its thread as stat does, undefined for one missing, following symlinks; with no thread up yet, answers undefined and starts one', async () => {
    const pool = newPool(1);
    const dir = await dirs.make();
    await writeFile(join(dir, 'a'), Buffer.alloc(5000, 1));
    await symlink(join(dir, 'a'), join(dir, 'link'));
    const paths = [join(dir, 'a'), join(dir, 'nope'), join(dir, 'link')];
    // Not waited for: the caller stats them itself meanwhile.
    expect(await pool.statFiles(paths)).toBeUndefined();
    expect(pool.threads).toBe(1);
    await pool.hash([Buffer.from('up')]);
    const [a, missing, link] = (await pool.statFiles(paths))!;
    const st = statSync(join(dir, 'a'));
    expect(a).toEqual({ size: 5000, mtimeMs: st.mtimeMs, blocks: st.blocks });
    expect(missing).toBeUndefined();
    expect(link).toEqual(a);
    expect(pool.threads).toBe(1);
  });

  it('a thread started ahead by statFiles, with no job after it, exits after idleMs as any idle thread does', async () => {
    const pool = newPool(1, { idleMs: 50 });
    expect(await pool.statFiles([])).toBeUndefined();
    expect(pool.threads).toBe(1);
    await vi.waitFor(() => expect(pool.threads).toBe(0), { timeout: 5_000 });
  });
});
