/**
 * torrents/info's `filter` and `sort` are names from the request, looked
 * up in tables: a name that only exists on Object.prototype must read as
 * an unknown one. `npm run fuzz` found `filter=__proto__` answering 500
 * ("state is not a function"); see docs/FUZZING.md.
 */
import { describe, expect, it } from 'vitest';
import { FormFields } from '../src/web/web-request.js';
import { infoQuery, selectTorrents } from '../src/web/qbittorrent/qbt-filter.js';
import { QbtError } from '../src/web/qbittorrent/qbt-error.js';
import type { QbtTorrent } from '../src/web/qbittorrent/qbt-torrent-view.js';

const t = (hash: string, over: Partial<QbtTorrent>): QbtTorrent => ({ hash, name: hash, state: 'stalledDL', category: '', tags: '', upspeed: 0, private: false, added_on: 0, ...over }) as QbtTorrent;
const all = [t('a', { state: 'uploading', added_on: 2 }), t('b', { state: 'stoppedDL', added_on: 1 })];
const select = (query: string) => selectTorrents(all, infoQuery(FormFields.fromEntries(new URLSearchParams(query))));

const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toString', '__defineGetter__'];

describe('torrents/info with names from Object.prototype', () => {
  it.each(PROTOTYPE_NAMES)('reads filter=%s as an unknown filter: every torrent', (name) => {
    expect(select(`filter=${name}`).map((x) => x.hash)).toEqual(['a', 'b']);
  });

  it.each(PROTOTYPE_NAMES)('refuses sort=%s as an unknown sort key', (name) => {
    expect(() => select(`sort=${name}`)).toThrow(QbtError);
    expect(() => select(`sort=${name}`)).toThrow("'sort' parameter is invalid");
  });

  it('still sorts by a real key', () => {
    expect(select('sort=added_on').map((x) => x.hash)).toEqual(['b', 'a']);
  });
});
