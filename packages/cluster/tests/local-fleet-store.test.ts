/** The fleet's state in a folder (seedbox serve): the same contract as the JetStream buckets, and kill -9 at any moment. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile, chmod, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultTorrentSettings, LocalFleetStore, LocalFleetStoreError } from '../src/index.js';
import { registryContract } from './support/registry-contract.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'seedbox-state-'));
  dirs.push(d);
  return d;
}

describe('LocalFleetStore', () => {
  it('keeps the same registry and bitfields as the JetStream store, across reopening', async () => {
    const dir = await tempDir();
    const store = await LocalFleetStore.open(dir);
    await registryContract(store, async () => {
      await store.flush();
      return LocalFleetStore.open(dir);
    });
  });

  it('leaves whole entries whenever the process is killed (-9) while writing', async () => {
    const dir = await tempDir();
    expect(existsSync(new URL('../dist/index.js', import.meta.url)), 'packages/cluster/dist is missing: run npm run build').toBe(true);
    // A child writing entries and bitfields as fast as it can, killed mid-way.
    const script = join(dir, 'writer.mjs');
    // The built package (npm test builds first): node 20 cannot run TypeScript itself.
    const mod = new URL('../dist/index.js', import.meta.url).pathname;
    await writeFile(
      script,
      `const { LocalFleetStore } = await import(${JSON.stringify(mod)});
       const store = await LocalFleetStore.open(${JSON.stringify(join(dir, 'state'))});
       process.stdout.write('open\\n');
       for (let i = 0; ; i++) {
         const hex = (i % 50).toString(16).padStart(2, '0').repeat(20);
         const torrentFile = new Uint8Array(20000 + (i % 7) * 1000).fill(i & 0xff);
         await store.removeTorrent(hex);
         await store.addTorrent({ infoHashHex: hex, torrentFile, desired: i % 2 ? 'paused' : 'running', addedAt: i, rechecks: 0 });
         await store.mergeBitfield(hex, 800, [i % 800]);
       }`,
    );
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 400));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const store = await LocalFleetStore.open(join(dir, 'state'));
    expect(store.badEntries).toEqual([]);
    const all = await store.listTorrents();
    expect(all.length).toBeGreaterThan(0);
    for (const e of all) expect(e.torrentFile.every((b) => b === (e.addedAt & 0xff))).toBe(true);
    // The temporary files of the killed writes are gone.
    expect((await readdir(join(dir, 'state', 'torrents'))).filter((n) => n.includes('.tmp'))).toEqual([]);
  });

  it('skips an entry it cannot read (and says which), keeps the rest', async () => {
    const dir = await tempDir();
    const store = await LocalFleetStore.open(dir);
    await store.addTorrent({ infoHashHex: 'ab'.repeat(20), torrentFile: new Uint8Array([1]), desired: 'running', addedAt: 1, rechecks: 0, settings: defaultTorrentSettings(1) });
    await store.flush();
    await writeFile(join(dir, 'torrents', `${'cd'.repeat(20)}.json`), '{"v":1,"torrent":');
    const again = await LocalFleetStore.open(dir);
    expect((await again.listTorrents()).map((e) => e.infoHashHex)).toEqual(['ab'.repeat(20)]);
    expect(again.badEntries.map((b) => b.path)).toEqual([join(dir, 'torrents', `${'cd'.repeat(20)}.json`)]);
  });

  it('refuses a folder it cannot write, with a typed error naming it', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'ro'));
    await chmod(join(dir, 'ro'), 0o500);
    const attempt = LocalFleetStore.open(join(dir, 'ro', 'state'));
    if (process.getuid?.() === 0) {
      // root writes anywhere: a file where the folder should be stands in for it.
      await writeFile(join(dir, 'file'), 'x');
      await attempt.catch(() => {});
      await expect(LocalFleetStore.open(join(dir, 'file'))).rejects.toThrow(LocalFleetStoreError);
      await expect(LocalFleetStore.open(join(dir, 'file'))).rejects.toThrow(/the state folder .*file cannot be used/);
    } else {
      await expect(attempt).rejects.toThrow(/the state folder .* cannot be used: EACCES/);
    }
  });
});
