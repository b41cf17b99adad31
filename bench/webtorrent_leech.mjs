// WebTorrent 1.9.7 as a leech for the benchmarks: connects to the given
// peers only (no DHT, LSD, trackers, uTP or web seeds) and exits when done.
import WebTorrent from 'webtorrent';
import { readFileSync } from 'node:fs';

const [torrentPath, outDir, ...peers] = process.argv.slice(2);
const client = new WebTorrent({ dht: false, lsd: false, tracker: false, utp: false, webSeeds: false });
client.on('error', (e) => {
  console.error(String(e));
  process.exit(1);
});
const t0 = performance.now();
const torrent = client.add(readFileSync(torrentPath), { path: outDir });
torrent.on('ready', () => {
  for (const p of peers) torrent.addPeer(p);
});
torrent.on('done', () => {
  console.log(`DONE ${((performance.now() - t0) / 1000).toFixed(3)}`);
  client.destroy(() => process.exit(0));
});
