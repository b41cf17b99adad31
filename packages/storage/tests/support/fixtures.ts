import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StorageLayout } from '../../src/storage.js';

/** Temp folders made by a test file, removed by `cleanup()` in its afterEach. */
export class TempDirs {
  private readonly dirs: string[] = [];
  async make(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'seedbox-dw-'));
    this.dirs.push(d);
    return d;
  }
  async cleanup(): Promise<void> {
    await Promise.all(this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  }
}

export interface FileSpec {
  path: string[];
  length: number;
  padding?: boolean;
}

/** Deterministic torrent content: byte i is a function of i (padding files are zeros, as BEP 47 says). */
export function contentFor(files: readonly FileSpec[]): Buffer {
  const total = files.reduce((n, f) => n + f.length, 0);
  const data = Buffer.alloc(total);
  let at = 0;
  for (const f of files) {
    if (!f.padding) for (let i = 0; i < f.length; i++) data[at + i] = ((at + i) * 2654435761) >>> 24;
    at += f.length;
  }
  return data;
}

/** A layout (what a Metainfo provides) whose piece hashes are those of `data`. */
export function layoutFor(
  data: Uint8Array,
  files: readonly FileSpec[],
  pieceLength: number,
  opts: { name?: string; multiFile?: boolean } = {},
): StorageLayout {
  const count = Math.ceil(data.length / pieceLength);
  const hashes = Buffer.alloc(count * 20);
  for (let i = 0; i < count; i++) {
    createHash('sha1')
      .update(data.subarray(i * pieceLength, (i + 1) * pieceLength))
      .digest()
      .copy(hashes, i * 20);
  }
  const name = opts.name ?? 'torrent';
  return {
    infoHashHex: createHash('sha1').update(name).update(hashes).digest('hex'),
    name,
    multiFile: opts.multiFile ?? files.length > 1,
    pieceLength,
    totalLength: data.length,
    pieceHashes: hashes,
    files: files.map((f) => ({ path: f.path, length: f.length, padding: f.padding ?? false })),
  };
}

/** Piece `index` of `data` cut into blocks of `blockSize`, each its own Buffer (as the wire delivers them). */
export function pieceBlocks(data: Uint8Array, pieceLength: number, index: number, blockSize = 16 * 1024): Buffer[] {
  const piece = data.subarray(index * pieceLength, Math.min(data.length, (index + 1) * pieceLength));
  const out: Buffer[] = [];
  for (let at = 0; at < piece.length; at += blockSize) out.push(Buffer.from(piece.subarray(at, at + blockSize)));
  return out;
}
