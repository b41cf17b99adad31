#!/usr/bin/env node
/**
 * A WebTorrent 1.9.7 seed for interop tests, driven by test/support/peers.ts.
 *
 *   node webtorrent_seed.mjs <torrent> <dataRoot> <port>
 *
 * Seeds the existing files under dataRoot (dataRoot/<name>/...) without
 * hashing them first (skipVerify), over TCP only: DHT, LSD, trackers, uTP
 * and web seeds are off, so the only peers are those that connect to
 * <port> (WebTorrent 1.x listens on every interface, no bind address).
 * Prints `LISTENING <port>` when ready, `PROGRESS ...` lines, `WIRE ...` for
 * each peer connection, and `ERROR ...` on a fatal error (exit 1).
 * Exits by itself when its parent process goes away.
 */
import { readFileSync } from 'node:fs';
import { setInterval } from 'node:timers';
// webtorrent 1.x is CommonJS: its module.exports is the default import.
import WebTorrent from 'webtorrent';

const [torrentPath, dataRoot, portText, uploadLimitText] = process.argv.slice(2);
if (!torrentPath || !dataRoot || !portText) {
  console.log('ERROR usage: webtorrent_seed.mjs <torrent> <dataRoot> <port>');
  process.exit(2);
}

function fail(err) {
  console.log(`ERROR ${err && err.stack ? err.stack : err}`);
  process.exit(1);
}

const client = new WebTorrent({
  ...(uploadLimitText ? { uploadLimit: Number(uploadLimitText) } : {}),
  dht: false,
  lsd: false,
  tracker: false,
  utp: false,
  webSeeds: false,
  torrentPort: Number(portText),
});
client.on('error', fail);

const torrent = client.add(readFileSync(torrentPath), {
  path: dataRoot,
  skipVerify: true,
  announce: [],
});
torrent.on('error', fail);
torrent.on('wire', (wire, addr) => console.log(`WIRE connected ${addr}`));

function whenListening(cb) {
  if (client.listening) cb();
  else client.once('listening', cb);
}

torrent.on('ready', () => {
  console.log(`ADDED ${torrent.infoHash} ${torrent.name} ${torrent.length} bytes`);
  whenListening(() => console.log(`LISTENING ${client.torrentPort}`));
});

const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) {
    console.log('ERROR parent process is gone; exiting');
    process.exit(0);
  }
  console.log(
    `PROGRESS ${(torrent.progress * 100).toFixed(1)}% peers=${torrent.numPeers} up=${Math.round(client.uploadSpeed)}B/s uploaded=${torrent.uploaded}`,
  );
}, 1000);

process.on('SIGTERM', () => client.destroy(() => process.exit(0)));
