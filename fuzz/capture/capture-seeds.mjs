#!/usr/bin/env node
// Captures real messages for the fuzz seeds: fuzz/seeds/<kind>/*.bin.
//
//   node fuzz/capture/capture-seeds.mjs
//
// Needs opentracker and python3-libtorrent (Debian packages; libtorrent
// through /usr/bin/python3), as test/fixtures/make-fixtures.sh does. The
// outputs are committed, so the fuzzer never needs these tools, only this
// script does, to capture again.
//
// - opentracker (HTTP and UDP on one port, with a whitelist, as Debian
//   builds it): announce replies with 0, 1 and 3 peers, the "not
//   authorized" failure, a scrape, and UDP connect, announce, scrape and
//   error replies.
// - libtorrent 2.0 (test/support/lt_peer.py, seeding the mktorrent-multi
//   fixture): what it sends a peer that connects with the extension
//   protocol, asks for the metadata and a block: its handshake, extended
//   handshake, bitfield or have-all, unchoke, allowed-fast, ut_metadata
//   data pieces, a piece, and ut_pex when it sends one.
/* global fetch */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const seedsDir = join(root, 'fuzz', 'seeds');
const torrentPath = join(root, 'test', 'fixtures', 'torrents', 'mktorrent-multi.torrent');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const work = mkdtempSync(join(tmpdir(), 'seedbox-capture-'));
const children = [];

function save(kind, name, bytes) {
  mkdirSync(join(seedsDir, kind), { recursive: true });
  writeFileSync(join(seedsDir, kind, `${name}.bin`), bytes);
  console.log(`${kind}/${name}.bin  ${bytes.length} bytes`);
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

/** The info dictionary's SHA-1, found by scanning for `4:infod` and matching brackets (the fixture is canonical bencode). */
function infoHashOf(torrent) {
  const start = torrent.indexOf('4:infod') + 6;
  let pos = start;
  const skip = () => {
    const c = torrent[pos];
    if (c === 0x69) pos = torrent.indexOf(0x65, pos) + 1;
    else if (c === 0x6c || c === 0x64) {
      pos++;
      while (torrent[pos] !== 0x65) skip();
      pos++;
    } else {
      const colon = torrent.indexOf(0x3a, pos);
      pos = colon + 1 + Number(torrent.subarray(pos, colon).toString('latin1'));
    }
  };
  skip();
  return createHash('sha1').update(torrent.subarray(start, pos)).digest();
}

const torrent = readFileSync(torrentPath);
const infoHash = infoHashOf(torrent);
const pct = (b) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');

// ---- opentracker ----

async function captureOpentracker() {
  const port = await freePort();
  const dir = join(work, 'opentracker');
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'whitelist'), `${infoHash.toString('hex')}\n`, { mode: 0o644 });
  const p = spawn('opentracker', ['-i', '127.0.0.1', '-p', String(port), '-P', String(port), '-d', dir, '-w', 'whitelist'], { stdio: 'ignore' });
  children.push(p);
  const base = `http://127.0.0.1:${port}`;
  const announce = (peerId, peerPort, extra = '') =>
    `${base}/announce?info_hash=${pct(infoHash)}&peer_id=${peerId}&port=${peerPort}&uploaded=0&downloaded=0&left=1000&compact=1&event=started${extra}`;
  const get = async (url) => Buffer.from(await (await fetch(url)).arrayBuffer());
  // Ready once the whitelist is read (on a thread of its own, after the port accepts).
  for (let i = 0; ; i++) {
    const body = await get(`${base}/announce?info_hash=${pct(infoHash)}&peer_id=-SB0100-readinessprb&port=1&uploaded=0&downloaded=0&left=0&event=stopped&compact=1`).catch(() => Buffer.alloc(0));
    if (body.length > 0 && !body.includes('not authorized')) break;
    if (i > 100) throw new Error('opentracker did not start');
    await sleep(100);
  }
  save('tracker-http', 'opentracker-first-peer', await get(announce('-qB4650-aaaaaaaaaaaa', 6881)));
  await get(announce('-TR4050-bbbbbbbbbbbb', 51413));
  await get(announce('-lt2080-cccccccccccc', 6882));
  save('tracker-http', 'opentracker-three-peers', await get(announce('-SB0100-dddddddddddd', 6883, '&numwant=50')));
  save('tracker-http', 'opentracker-numwant-1', await get(announce('-SB0100-eeeeeeeeeeee', 6884, '&numwant=1&event=completed&left=0')));
  save('tracker-http', 'opentracker-not-authorized', await get(`${base}/announce?info_hash=${pct(randomBytes(20))}&peer_id=-SB0100-ffffffffffff&port=1&uploaded=0&downloaded=0&left=0&compact=1`));
  save('tracker-http', 'opentracker-no-info-hash', await get(`${base}/announce?peer_id=-SB0100-ffffffffffff&port=1&compact=1`));
  save('bencode', 'opentracker-scrape', await get(`${base}/scrape?info_hash=${pct(infoHash)}`));

  const udp = createSocket('udp4');
  const replies = [];
  udp.on('message', (m) => replies.push(m));
  await new Promise((r) => udp.bind(0, '127.0.0.1', r));
  const ask = async (packet) => {
    const before = replies.length;
    udp.send(packet, port, '127.0.0.1');
    for (let i = 0; i < 20 && replies.length === before; i++) await sleep(25);
    return replies.length > before ? replies[replies.length - 1] : undefined;
  };
  const connectReq = Buffer.alloc(16);
  connectReq.writeBigUInt64BE(0x41727101980n, 0);
  connectReq.writeUInt32BE(0, 8);
  connectReq.writeUInt32BE(0x1234abcd, 12);
  const connectReply = await ask(connectReq);
  save('tracker-udp', 'opentracker-connect', connectReply);
  const connectionId = connectReply.readBigUInt64BE(8);
  const announceReq = (cid, tid, key) => {
    const b = Buffer.alloc(98);
    b.writeBigUInt64BE(cid, 0);
    b.writeUInt32BE(1, 8);
    b.writeUInt32BE(tid, 12);
    infoHash.copy(b, 16);
    Buffer.from(`-SB0100-udp${String(key).padStart(9, '0')}`).copy(b, 36);
    b.writeBigUInt64BE(1000n, 64);
    b.writeUInt32BE(2, 80);
    b.writeUInt32BE(key, 88);
    b.writeInt32BE(-1, 92);
    b.writeUInt16BE(7000 + key, 96);
    return b;
  };
  save('tracker-udp', 'opentracker-announce', await ask(announceReq(connectionId, 0x1234abce, 1)));
  const scrape = Buffer.alloc(36);
  scrape.writeBigUInt64BE(connectionId, 0);
  scrape.writeUInt32BE(2, 8);
  scrape.writeUInt32BE(0x1234abcf, 12);
  infoHash.copy(scrape, 16);
  save('tracker-udp', 'opentracker-scrape', await ask(scrape));
  const error = await ask(announceReq(connectionId ^ 0xffffn, 0x1234abd0, 2));
  if (error) save('tracker-udp', 'opentracker-error', error);
  else console.log('opentracker sent no reply to a wrong connection id');
  udp.close();
  p.kill();
}

// ---- libtorrent ----

const MSG_NAMES = { 0: 'choke', 1: 'unchoke', 2: 'interested', 3: 'not-interested', 4: 'have', 5: 'bitfield', 6: 'request', 7: 'piece', 8: 'cancel', 9: 'port', 13: 'suggest', 14: 'have-all', 15: 'have-none', 16: 'reject', 17: 'allowed-fast', 20: 'extended' };

function frame(id, body) {
  const b = Buffer.alloc(5 + body.length);
  b.writeUInt32BE(1 + body.length, 0);
  b[4] = id;
  body.copy(b, 5);
  return b;
}

/** Connects as a peer, asks for the metadata and a block, and answers everything it got. */
async function talkToLibtorrent(port, peerId, ourPort, ms) {
  const chunks = [];
  const sock = connect(port, '127.0.0.1');
  sock.on('data', (d) => chunks.push(d));
  await new Promise((r, j) => (sock.once('connect', r), sock.once('error', j)));
  const handshake = Buffer.alloc(68);
  handshake[0] = 19;
  handshake.write('BitTorrent protocol', 1, 'latin1');
  handshake[25] = 0x10;
  handshake[27] = 0x05;
  infoHash.copy(handshake, 28);
  Buffer.from(peerId, 'latin1').copy(handshake, 48);
  const ext = Buffer.from(`d1:md11:ut_metadatai3e6:ut_pexi1ee1:pi${ourPort}e4:reqqi250e1:v13:seedbox/0.1.0e`, 'latin1');
  sock.write(Buffer.concat([handshake, frame(20, Buffer.concat([Buffer.of(0), ext])), frame(2, Buffer.alloc(0))]));
  await sleep(300);
  // ut_metadata requests go to the id libtorrent gave in its extended handshake; ask for every piece it may have.
  const got = Buffer.concat(chunks);
  const m = /11:ut_metadatai(\d+)e/.exec(got.toString('latin1'));
  const theirs = m ? Number(m[1]) : 2;
  for (let piece = 0; piece < 3; piece++) sock.write(frame(20, Buffer.concat([Buffer.of(theirs), Buffer.from(`d8:msg_typei0e5:piecei${piece}ee`, 'latin1')])));
  const req = Buffer.alloc(12);
  req.writeUInt32BE(0, 0);
  req.writeUInt32BE(0, 4);
  req.writeUInt32BE(16384, 8);
  await sleep(300);
  sock.write(frame(6, req));
  await sleep(ms);
  sock.destroy();
  return Buffer.concat(chunks);
}

async function captureLibtorrent() {
  const port = await freePort();
  const lt = spawn('/usr/bin/python3', [join(root, 'test', 'support', 'lt_peer.py'), 'seed', '--torrent', torrentPath, '--save', join(root, 'test', 'fixtures', 'data'), '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(lt);
  await new Promise((res, rej) => {
    let out = '';
    lt.stdout.on('data', (d) => {
      out += d;
      if (out.includes('LISTENING')) res();
      if (out.includes('ERROR')) rej(new Error(out));
    });
    lt.once('exit', (c) => rej(new Error(`lt_peer.py exited ${c}: ${out}`)));
  });
  // Two peers, so that each may hear of the other by ut_pex.
  const [first, second] = await Promise.all([talkToLibtorrent(port, '-SB0100-captureAAAAA', 7001, 4000), talkToLibtorrent(port, '-SB0100-captureBBBBB', 7002, 4000)]);
  lt.kill();
  for (const [tag, stream] of [['a', first], ['b', second]]) {
    save('handshake', `libtorrent-${tag}`, stream.subarray(0, 68));
    const messages = stream.subarray(68);
    save('wire', `libtorrent-stream-${tag}`, messages.subarray(0, 64 * 1024));
    if (tag === 'b') continue;
    const seen = new Set();
    let at = 0;
    while (at + 4 <= messages.length) {
      const length = messages.readUInt32BE(at);
      if (at + 4 + length > messages.length) break;
      const msg = messages.subarray(at, at + 4 + length);
      at += 4 + length;
      if (length === 0) continue;
      const id = msg[4];
      const name = MSG_NAMES[id] ?? `id-${id}`;
      if (id === 20) {
        const payload = msg.subarray(6);
        const kind = msg[5] === 0 ? 'extended-handshake' : payload.includes('8:msg_type') ? 'ut-metadata' : payload.includes('5:added') || payload.includes('7:dropped') ? 'pex' : 'extended-other';
        const key = `${kind}-${seen.size}`;
        save(kind === 'extended-other' ? 'wire' : kind, `libtorrent-${key}`, kind === 'extended-other' ? msg : payload);
        seen.add(key);
      } else if (!seen.has(name)) {
        seen.add(name);
        save('wire', `libtorrent-${name}`, msg);
      }
    }
  }
}

try {
  rmSync(seedsDir, { recursive: true, force: true });
  await captureOpentracker();
  await captureLibtorrent();
} finally {
  for (const c of children) if (c.exitCode === null) c.kill();
  rmSync(work, { recursive: true, force: true });
}
