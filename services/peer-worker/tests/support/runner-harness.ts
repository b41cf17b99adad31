import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bitfield } from '@seedbox/protocol';
import { defaultTorrentSettings, LocalFleetStore, type RegistryEntry } from '@seedbox/cluster';
import { silentLogger } from '@seedbox/runtime';
import { FleetRunner, type FleetTorrentData } from '../../src/fleet/fleet-runner.js';
import type { FleetRunnerOptions } from '../../src/fleet/fleet-runner-options.js';
import { FakeEngine, fakeTorrent } from './fake-engine.js';

/**
 * FleetRunner over a real LocalFleetStore (a state folder, as `seedbox
 * serve` has it) and a FakeEngine, for tests of what it runs and what that
 * costs. Every torrent's data says the fleet's bitfield is what is on disk.
 */

export interface Harness {
  runner: FleetRunner;
  engine: FakeEngine;
  /** Data opened, and closed, per torrent (by info hash), and the save folder each was opened in. */
  opened: { hex: string; savePath: string | undefined }[];
  closed: string[];
}

export async function stateDir(cleanups: (() => Promise<void> | void)[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'seedbox-runner-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function entryFor(n: number, over: Partial<RegistryEntry> = {}, pieces = 4): RegistryEntry {
  const { file, meta } = fakeTorrent(n, pieces);
  return { infoHashHex: meta.infoHashHex, torrentFile: file, desired: 'running', addedAt: n, rechecks: 0, settings: defaultTorrentSettings(n), ...over };
}

/** Registers torrents 0..n-1 (complete ones with a full bitfield); answers their info hashes in order. */
export async function register(store: LocalFleetStore, n: number, o: { complete?: boolean; from?: number } = {}): Promise<string[]> {
  const from = o.from ?? 0;
  const entries = Array.from({ length: n }, (_, i) => entryFor(from + i));
  await Promise.all(entries.map((e) => store.addTorrent(e)));
  if (o.complete) await Promise.all(entries.map((e) => store.replaceBitfield(e.infoHashHex, Bitfield.full(4))));
  return entries.map((e) => e.infoHashHex);
}

export async function startRunner(
  store: LocalFleetStore,
  cleanups: (() => Promise<void> | void)[],
  o: Partial<FleetRunnerOptions> & { closeMs?: number; checkMs?: number; fake?: FakeEngine } = {},
): Promise<Harness> {
  const engine = o.fake ?? new FakeEngine();
  const opened: Harness['opened'] = [];
  const closed: string[] = [];
  const data = (meta: Parameters<FleetRunnerOptions['data']>[0], recorded: () => Uint8Array | undefined, savePath: string | undefined): FleetTorrentData => {
    opened.push({ hex: meta.infoHashHex, savePath });
    return {
      check: async () => {
        const bytes = recorded();
        // A check that takes a while: the fleet's bitfield may grow meanwhile.
        if (o.checkMs) await new Promise((r) => setTimeout(r, o.checkMs));
        const have = bytes && bytes.length === Math.ceil(meta.pieceCount / 8) ? Bitfield.fromBytes(bytes, meta.pieceCount) : new Bitfield(meta.pieceCount);
        return { have, fastPath: true, hashed: 0 };
      },
      close: async () => {
        if (o.closeMs) await new Promise((r) => setTimeout(r, o.closeMs));
        closed.push(meta.infoHashHex);
      },
    };
  };
  const runner = new FleetRunner({
    state: store,
    engine: engine.asEngine,
    data,
    moveData: async () => {},
    removeTorrent: async (hex) => void (await store.removeTorrent(hex)),
    workerId: 'w1',
    announce: { port: 6881 },
    log: silentLogger,
    membershipMs: 20,
    ...o,
  });
  await runner.start();
  // A second stop (the test stopped it already) finds nothing left to do.
  cleanups.push(() => runner.stop());
  return { runner, engine, opened, closed };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits (20 ms steps, `ms` at most) until `ok` holds; throws saying what was awaited otherwise. */
export async function until(ok: () => boolean, what: string, ms = 5000): Promise<void> {
  for (let waited = 0; !ok(); waited += 20) {
    if (waited >= ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export { LocalFleetStore };
