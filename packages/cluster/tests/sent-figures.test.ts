import { describe, expect, it } from 'vitest';
import { SentFigures, type AnnounceFigures } from '../src/sent-figures.js';

describe('SentFigures', () => {
  it('answers figures the first time and when one moved, nothing when none did', () => {
    const t: AnnounceFigures = { uploaded: 0, downloaded: 0, left: 10, complete: false };
    const sent = new SentFigures();
    const source = { totals: () => ({ ...t }) };
    expect(sent.listed).toBe(false);
    expect(sent.changed(source)).toEqual(t);
    expect(sent.listed).toBe(true);
    expect(sent.changed(source)).toBeUndefined();
    for (const move of [{ uploaded: 5 }, { downloaded: 5 }, { left: 0 }, { complete: true }]) {
      Object.assign(t, move);
      expect(sent.changed(source)).toEqual(t);
      expect(sent.changed(source)).toBeUndefined();
    }
  });

  it('does not read a quiet source again under the stamp it was read with; reads it under a new one, or once it is awake', () => {
    let reads = 0;
    let stamp: object | undefined = {};
    const source = { totals: () => (reads++, { uploaded: 1, downloaded: 2, left: 0, complete: true }), quiet: () => stamp };
    const sent = new SentFigures();
    expect(sent.changed(source)).toBeDefined();
    for (let i = 0; i < 10; i++) expect(sent.changed(source)).toBeUndefined();
    expect(reads).toBe(1);
    stamp = {};
    expect(sent.changed(source)).toBeUndefined();
    expect(reads).toBe(2);
    stamp = undefined;
    sent.changed(source);
    sent.changed(source);
    expect(reads).toBe(4);
    // A full heartbeat reads and lists it whatever its stamp.
    expect(sent.all(source)).toEqual({ uploaded: 1, downloaded: 2, left: 0, complete: true });
    expect(reads).toBe(5);
  });

  it('notes nothing when the figures cannot be read', () => {
    const sent = new SentFigures();
    expect(() =>
      sent.changed({
        totals: () => {
          throw new Error('gone');
        },
      }),
    ).toThrow('gone');
    expect(sent.listed).toBe(false);
  });
});
