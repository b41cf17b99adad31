// Many small torrents, made in-process for the many-torrents scenario: a
// thousand a second, where a mktorrent per torrent would take minutes at
// 10,000.
//
// Torrent i is one file `tNNNNN.bin` of 16-64 KiB of deterministic random
// bytes, 16 KiB pieces, one tracker, marked private (the torrents that
// people keep by the thousand come from private trackers; private also keeps
// the DHT and peer exchange out of what is measured). The files go to
// DIR/data/, the .torrent files to DIR/torrents/, the info hashes (hex, one
// a line, in order: opentracker's whitelist format) to DIR/whitelist. A set
// already there with the same parameters is reused.
import bencode from 'bencode';
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PIECE = 16 * 1024;
const MIN = 16 * 1024;
const MAX = 64 * 1024;

/** Returns { dataDir, torrentDir, whitelist, torrents: [{ torrent, file, infoHash, size }], totalBytes, made }. */
export function torrentSet(dir, { count, tracker, seed = 'many-torrents' }) {
  const dataDir = join(dir, 'data');
  const torrentDir = join(dir, 'torrents');
  const whitelist = join(dir, 'whitelist');
  const listFile = join(dir, 'torrents.json');
  const marker = join(dir, 'params.json');
  const params = JSON.stringify({ count, tracker, seed, PIECE, MIN, MAX, version: 1 });
  if (existsSync(marker) && readFileSync(marker, 'utf8') === params && existsSync(listFile)) {
    const torrents = JSON.parse(readFileSync(listFile, 'utf8')).map((t) => ({ ...t, file: join(torrentDir, t.torrent) }));
    return { dataDir, torrentDir, whitelist, torrents, totalBytes: torrents.reduce((a, t) => a + t.size, 0), made: false };
  }
  for (const d of [dataDir, torrentDir]) {
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
  }
  rmSync(marker, { force: true });
  const key = createHash('sha256').update(seed).digest();
  // AES-CTR over zeros: fast, and the same bytes every time for the same seed.
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), Buffer.alloc(16));
  const sizes = createCipheriv('aes-128-ctr', key.subarray(16, 32), Buffer.alloc(16)).update(Buffer.alloc(4 * count));
  const torrents = [];
  const created = Math.floor(Date.UTC(2026, 0, 1) / 1000);
  for (let i = 0; i < count; i++) {
    const size = MIN + (sizes.readUInt32LE(4 * i) % (MAX - MIN + 1));
    const name = `t${String(i).padStart(5, '0')}.bin`;
    const bytes = cipher.update(Buffer.alloc(size));
    const hashes = [];
    for (let at = 0; at < size; at += PIECE) hashes.push(createHash('sha1').update(bytes.subarray(at, at + PIECE)).digest());
    const info = { length: size, name, 'piece length': PIECE, pieces: Buffer.concat(hashes), private: 1 };
    // The info hash over the info dictionary's bytes exactly as they stand in the file written below.
    const infoBytes = bencode.encode(info);
    const infoHash = createHash('sha1').update(infoBytes).digest('hex');
    writeFileSync(join(dataDir, name), bytes);
    const torrent = `${name.slice(0, -4)}.torrent`;
    writeFileSync(join(torrentDir, torrent), bencode.encode({ announce: tracker, 'created by': 'seedbox bench', 'creation date': created, info }));
    torrents.push({ torrent, file: join(torrentDir, torrent), infoHash, size });
  }
  writeFileSync(whitelist, torrents.map((t) => `${t.infoHash}\n`).join(''));
  writeFileSync(listFile, JSON.stringify(torrents.map((t) => ({ torrent: t.torrent, infoHash: t.infoHash, size: t.size }))));
  writeFileSync(marker, params);
  return { dataDir, torrentDir, whitelist, torrents, totalBytes: torrents.reduce((a, t) => a + t.size, 0), made: true };
}
