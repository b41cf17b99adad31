import { expect } from 'vitest';
import type { FleetStore, RegistryEntry } from '../../src/index.js';
import { sleep } from '../../../../test/support/processes.js';

const A = 'aa'.repeat(20);
const B = 'bb'.repeat(20);
const entry = (hex: string, addedAt = 1): RegistryEntry => ({ infoHashHex: hex, torrentFile: new Uint8Array([1, 2, 3]), desired: 'running', addedAt, rechecks: 0 });

/** What every FleetStore must do, run against each (see local-fleet-store.test.ts for the other). */
export async function registryContract(state: FleetStore, reopen: () => Promise<FleetStore>): Promise<void> {
  const seen: [string, string | undefined][] = [];
  const stop = await state.watchTorrents((hex, e) => seen.push([hex, e?.desired]));
  expect(await state.addTorrent(entry(A, 2))).toBe(true);
  expect(await state.addTorrent({ ...entry(A, 2), desired: 'paused' })).toBe(false);
  expect(await state.addTorrent(entry(B, 1))).toBe(true);
  expect((await state.listTorrents()).map((e) => e.infoHashHex)).toEqual([B, A]);
  expect(await state.setDesired(A, 'paused')).toBe(true);
  expect((await state.getTorrent(A))!.desired).toBe('paused');
  expect(await state.requestRecheck(A)).toBe(true);
  expect((await state.getTorrent(A))!.rechecks).toBe(1);
  expect(await state.removeTorrent(B)).toBe(true);
  expect(await state.removeTorrent(B)).toBe(false);
  expect(await state.setDesired(B, 'running')).toBe(false);
  expect(await state.requestRecheck(B)).toBe(false);
  // Opening again (another service, or the next start) finds the same state.
  const other = await reopen();
  expect((await other.listTorrents()).map((e) => [e.infoHashHex, e.desired, e.rechecks])).toEqual([[A, 'paused', 1]]);
  for (let i = 0; i < 50 && seen.length < 5; i++) await sleep(20);
  expect(seen).toEqual([
    [A, 'running'],
    [B, 'running'],
    [A, 'paused'],
    [A, 'paused'],
    [B, undefined],
  ]);
  stop();
  // Bitfields: merged, replaced, and not trusted at the wrong size.
  await Promise.all(Array.from({ length: 10 }, (_, i) => state.mergeBitfield(A, 100, [i * 10, i * 10 + 1])));
  const bf = await state.getBitfield(A, 100);
  expect(bf.count).toBe(20);
  expect(bf.has(91)).toBe(true);
  expect((await state.getBitfield(A, 5000)).count).toBe(0);
  const only = await state.getBitfield(A, 100);
  for (let i = 0; i < 100; i++) if (i !== 91) only.clear(i);
  await state.replaceBitfield(A, only);
  expect([...(await (await reopen()).getBitfield(A, 100)).setIndices()]).toEqual([91]);
}

