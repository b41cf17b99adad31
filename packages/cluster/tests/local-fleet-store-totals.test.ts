/**
 * seedbox serve's totals: one file for every torrent, written once for a
 * flush's many torrents (not a file and an fsync each), whole after kill
 * -9, and the per-torrent files of earlier versions taken over at open.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultTorrentSettings, LocalFleetStore, type TorrentTotals } from '../src/index.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'seedbox-totals-'));
  dirs.push(d);
  return d;
}

const hexOf = (i: number): string => i.toString(16).padStart(40, '0');
const delta = (uploaded: number): TorrentTotals => ({ uploaded, downloaded: 0, seedingMs: 1000, activeMs: 1000, lastActivityAt: 0, completedAt: 0 });

async function withTorrents(dir: string, n: number): Promise<LocalFleetStore> {
  const store = await LocalFleetStore.open(dir);
  for (let i = 0; i < n; i++) {
    await store.addTorrent({ infoHashHex: hexOf(i), torrentFile: new Uint8Array([i & 0xff]), desired: 'running', addedAt: i, rechecks: 0, settings: defaultTorrentSettings(i) });
  }
  return store;
}

async function totalsSeen(store: LocalFleetStore): Promise<Map<string, TorrentTotals>> {
  const seen = new Map<string, TorrentTotals>();
  const stop = await store.watchTotals((hex, t) => (t ? seen.set(hex, t) : seen.delete(hex)));
  await new Promise((r) => setImmediate(r));
  stop();
  return seen;
}

describe('LocalFleetStore totals', () => {
  it("writes a flush's totals for 500 torrents as one file, once", async () => {
    const dir = await tempDir();
    const store = await withTorrents(dir, 500);
    const before = store.fileWrites;
    const answers = await Promise.all(Array.from({ length: 500 }, (_, i) => store.addTotals(hexOf(i), delta(i))));
    expect(store.fileWrites - before).toBe(1);
    expect(answers[42]).toMatchObject({ uploaded: 42, seedingMs: 1000 });
    // Added to, not replaced; and only the state's own files in the folder.
    await Promise.all(Array.from({ length: 500 }, (_, i) => store.addTotals(hexOf(i), delta(1))));
    expect(store.fileWrites - before).toBe(2);
    expect((await readdir(dir)).sort()).toEqual(['bitfields', 'torrents', 'totals.json']);
    const again = await totalsSeen(await LocalFleetStore.open(dir));
    expect(again.size).toBe(500);
    expect(again.get(hexOf(42))).toMatchObject({ uploaded: 43, seedingMs: 2000 });
  });

  it('a removed torrent takes its totals with it, and a new one starts from zero', async () => {
    const dir = await tempDir();
    const store = await withTorrents(dir, 2);
    await store.addTotals(hexOf(0), delta(5));
    await store.addTotals(hexOf(1), delta(6));
    await store.removeTorrent(hexOf(0));
    await store.addTorrent({ infoHashHex: hexOf(0), torrentFile: new Uint8Array([0]), desired: 'running', addedAt: 9, rechecks: 0, settings: defaultTorrentSettings(9) });
    const again = await totalsSeen(await LocalFleetStore.open(dir));
    expect([...again.keys()]).toEqual([hexOf(1)]);
    expect(JSON.parse(await readFile(join(dir, 'totals.json'), 'utf8')).totals).not.toHaveProperty(hexOf(0));
  });

  it("takes over an earlier version's per-torrent files: folded into totals.json, then removed", async () => {
    const dir = await tempDir();
    const store = await withTorrents(dir, 3);
    await store.flush();
    // As an earlier version left them: totals/<infohash>.json, one a torrent (and one of a torrent since removed).
    await mkdir(join(dir, 'totals'));
    const old = { uploaded: 7, downloaded: 8, seedingMs: 9, activeMs: 10, lastActivityAt: 11, completedAt: 12 };
    await writeFile(join(dir, 'totals', `${hexOf(0)}.json`), JSON.stringify(old));
    await writeFile(join(dir, 'totals', `${hexOf(2)}.json`), JSON.stringify({ ...old, uploaded: 70 }));
    await writeFile(join(dir, 'totals', `${hexOf(99)}.json`), JSON.stringify(old));
    await writeFile(join(dir, 'totals', `${hexOf(1)}.json.123.4.tmp`), '{"upl');
    const upgraded = await LocalFleetStore.open(dir);
    const seen = await totalsSeen(upgraded);
    expect(seen.get(hexOf(0))).toEqual(old);
    expect(seen.get(hexOf(2))?.uploaded).toBe(70);
    expect(seen.has(hexOf(1))).toBe(false);
    expect(seen.has(hexOf(99))).toBe(false);
    expect(existsSync(join(dir, 'totals'))).toBe(false);
    // Counted on from there, and found again.
    await upgraded.addTotals(hexOf(0), delta(1));
    expect((await totalsSeen(await LocalFleetStore.open(dir))).get(hexOf(0))).toMatchObject({ uploaded: 8, seedingMs: 1009, completedAt: 12 });
  });

  it('leaves a whole totals file whenever the process is killed (-9) while writing it', async () => {
    const dir = await tempDir();
    expect(existsSync(new URL('../dist/index.js', import.meta.url)), 'packages/cluster/dist is missing: run npm run build').toBe(true);
    const state = join(dir, 'state');
    const store = await withTorrents(state, 200);
    await store.flush();
    const mod = new URL('../dist/index.js', import.meta.url).pathname;
    const script = join(dir, 'writer.mjs');
    // Every round adds 1 to every torrent's upload: a whole file has the same figure everywhere.
    await writeFile(
      script,
      `const { LocalFleetStore } = await import(${JSON.stringify(mod)});
       const store = await LocalFleetStore.open(${JSON.stringify(state)});
       const hexes = (await store.listTorrents()).map((e) => e.infoHashHex);
       process.stdout.write('open\\n');
       for (;;) await Promise.all(hexes.map((h) => store.addTotals(h, { uploaded: 1, downloaded: 0, seedingMs: 0, activeMs: 0, lastActivityAt: 0, completedAt: 0 })));`,
    );
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 400));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const seen = await totalsSeen(await LocalFleetStore.open(state));
    expect(seen.size).toBe(200);
    const rounds = new Set([...seen.values()].map((t) => t.uploaded));
    expect(rounds.size).toBe(1);
    expect([...rounds][0]).toBeGreaterThan(0);
    expect((await readdir(state)).filter((n) => n.includes('.tmp'))).toEqual([]);
  });
});
