/**
 * FleetRecords, the control API's view of registry entries: a torrent's
 * metainfo is parsed once per process. The runner parses every entry it
 * has; the records take its parse, and keep their own only for a torrent
 * the runner has not seen yet (one just added).
 */
import { describe, expect, it } from 'vitest';
import type { Metainfo } from '@seedbox/protocol';
import { FleetRecords } from '../src/fleet/fleet-records.js';
import { FleetPicture } from '../src/fleet/fleet-picture.js';
import type { FleetView } from '../src/fleet/fleet-backend.js';
import { entryFor } from './support/runner-harness.js';

function fleetOf(picture: FleetPicture): FleetView {
  return {
    queued: () => false,
    totals: () => undefined,
    doneBytes: () => undefined,
    fileDone: () => undefined,
    done: () => undefined,
    pieces: () => undefined,
    metainfo: (hex) => picture.get(hex)?.meta,
  };
}

describe('FleetRecords', () => {
  it("takes the runner's parse of a torrent rather than keep a second one", () => {
    const picture = new FleetPicture();
    const e = entryFor(1);
    picture.setEntry(e.infoHashHex, e);
    const records = new FleetRecords(fleetOf(picture), '/data');
    expect(records.parse(e)).toBe(picture.get(e.infoHashHex)!.meta);
    expect(records.record(e, 1).metainfo).toBe(picture.get(e.infoHashHex)!.meta);
  });

  it('parses a torrent the runner has not seen yet once, and lets go of that parse when the runner has its own', () => {
    const picture = new FleetPicture();
    const e = entryFor(2);
    const records = new FleetRecords(fleetOf(picture), '/data');
    const own: Metainfo = records.parse(e);
    expect(records.parse(e)).toBe(own);
    picture.setEntry(e.infoHashHex, e);
    const runners = picture.get(e.infoHashHex)!.meta;
    expect(runners).not.toBe(own);
    expect(records.parse(e)).toBe(runners);
    // Nothing of the torrent is kept here any more: forgetting it in the
    // runner's picture would make the records parse it afresh.
    picture.setEntry(e.infoHashHex, undefined);
    const again = records.parse(e);
    expect(again).not.toBe(own);
    expect(again.infoHashHex).toBe(e.infoHashHex);
  });
});
