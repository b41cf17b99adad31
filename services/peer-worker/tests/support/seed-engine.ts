import { Bitfield, type Metainfo } from '@seedbox/protocol';
import { Engine } from '../../src/engine.js';
import type { EngineOptions } from '../../src/engine-options.js';
import { MemorySink, memoryData } from './memory-data.js';

/**
 * An engine listening on loopback and seeding `data` (whole, from memory)
 * once its check has run; `cleanups` gets its stop. For tests whose subject
 * is what a seeding process does with the connections it gets.
 */
export async function startSeedEngine(
  meta: Metainfo,
  data: Buffer,
  o: Partial<EngineOptions>,
  cleanups: (() => Promise<void> | void)[],
): Promise<Engine> {
  const engine = new Engine({ sink: new MemorySink(meta), listen: { host: '127.0.0.1', port: 0 }, tickMs: 100, ...o });
  await engine.start();
  cleanups.push(() => engine.stop());
  const length = meta.pieceLength;
  const torrent = engine.add(meta, {
    data: memoryData(meta.pieceCount, { have: Bitfield.full(meta.pieceCount), read: async (i, b, l) => data.subarray(i * length + b, i * length + b + l) }),
  });
  await new Promise<void>((resolve) => torrent.once('checked', () => resolve()));
  return engine;
}
