import { describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Bitfield, encodeHandshake, encodeMessage, type Message } from '@seedbox/protocol';
import { PeerQuality, UNREQUESTED_ALLOWANCE } from '../src/peer-quality.js';
import { PeerSession, type BlockAnswer, type CloseReason, type PeerHandler, type SessionContext, type SessionTimeouts } from '../src/peer-session.js';

/**
 * The rules that drop a peer that takes a slot and gives nothing
 * (peer-quality.ts), on one session over a fake socket and a fake clock.
 * The same rules against real peers on loopback: bad-peers.test.ts.
 */

class FakeSocket extends EventEmitter {
  connecting = false;
  writableLength = 0;
  setNoDelay(): this {
    return this;
  }
  write(): boolean {
    return true;
  }
  cork(): void {}
  uncork(): void {}
  destroy(): this {
    return this;
  }
}

const PIECES = 64;
const infoHash = new Uint8Array(20).fill(7);

function open(timeouts: Partial<SessionTimeouts> = {}, fast = true) {
  let clock = 1_000_000;
  const blocks: { key: string; answer: BlockAnswer }[] = [];
  const dropped: string[] = [];
  const closed: CloseReason[] = [];
  const owner: SessionContext & PeerHandler = {
    infoHash,
    localPeerId: new Uint8Array(20).fill(1),
    pieceCount: PIECES,
    have: new Bitfield(PIECES),
    listenPort: undefined,
    metadata: undefined,
    blockLength: () => 16384,
    admit: () => undefined,
    blockReceived: (_s, index, begin, _data, answer) => blocks.push({ key: `${index}:${begin}`, answer }),
    requestsDropped: (_s, refs) => dropped.push(...refs.map((r) => `${r.index}:${r.begin}`)),
    sessionClosed: (_s, reason) => closed.push(reason),
  };
  const session = new PeerSession({
    socket: new FakeSocket() as unknown as Socket,
    context: owner,
    handler: owner,
    direction: 'outgoing',
    peer: { host: 'x', port: 1 },
    timeouts: { idle: 1e9, keepAlive: 1e9, ...timeouts },
    now: () => clock,
  });
  session.start();
  const feed = (...ms: Message[]): void => session.onData(Buffer.concat(ms.map((m) => encodeMessage(m))));
  session.onData(encodeHandshake({ infoHash, peerId: new Uint8Array(20).fill(2), fast, extended: false }));
  feed(fast ? { type: 'have-all' } : { type: 'bitfield', bits: new Uint8Array(PIECES / 8).fill(0xff) });
  const block = (index: number, begin = 0): Message => ({ type: 'piece', index, begin, block: new Uint8Array(16384) });
  const advance = (ms: number): void => {
    clock += ms;
    session.tick();
  };
  return { session, feed, block, advance, blocks, dropped, closed };
}

describe('unrequested blocks', () => {
  it('tells answers in time, late answers (timed out, cancelled, lost to a BEP 3 choke) and blocks never asked for apart', () => {
    const t = open({ request: 5000 }, false);
    t.session.setInterested(true);
    t.feed({ type: 'unchoke' });
    for (const i of [0, 1, 2, 3]) t.session.request(i, 0);
    t.session.flush();
    t.feed(t.block(0));
    t.session.cancel(1, 0);
    t.advance(6000); // 2 and 3 time out
    expect(t.dropped).toEqual(['2:0', '3:0']);
    t.session.request(4, 0);
    t.session.flush();
    t.feed({ type: 'choke' }); // BEP 3: 4 is dropped, its answer may be on the wire
    t.feed(t.block(1), t.block(2), t.block(3), t.block(4), t.block(5), t.block(1));
    expect(t.blocks).toEqual([
      { key: '0:0', answer: 'requested' },
      { key: '1:0', answer: 'late' },
      { key: '2:0', answer: 'late' },
      { key: '3:0', answer: 'late' },
      { key: '4:0', answer: 'late' },
      { key: '5:0', answer: 'unrequested' },
      // A second answer to one request is not late any more.
      { key: '1:0', answer: 'unrequested' },
    ]);
    expect(t.closed).toEqual([]);
  });

  it(`drops the peer past ${UNREQUESTED_ALLOWANCE} blocks never asked for, as 'unrequested-data'; they add nothing to its rate`, () => {
    const t = open();
    t.session.setInterested(true);
    t.feed({ type: 'unchoke' });
    for (let i = 0; i < UNREQUESTED_ALLOWANCE; i++) t.feed(t.block(i));
    expect(t.closed).toEqual([]);
    t.feed(t.block(UNREQUESTED_ALLOWANCE));
    expect(t.closed).toEqual(['unrequested-data']);
    expect(t.session.download.total).toBe(0);
  });

  it('a REJECT (BEP 6) of a cancelled request means no answer is coming: a block after it is unrequested', () => {
    const t = open();
    t.session.setInterested(true);
    t.feed({ type: 'unchoke' });
    t.session.request(7, 0);
    t.session.flush();
    t.session.cancel(7, 0);
    t.feed({ type: 'reject', index: 7, begin: 0, length: 16384 }, t.block(7));
    expect(t.blocks).toEqual([{ key: '7:0', answer: 'unrequested' }]);
  });
});

describe('snubbed peers', () => {
  it('a timeout snubs the peer: one request at a time until a block answers one in time', () => {
    const t = open({ request: 5000 });
    t.session.setInterested(true);
    t.feed({ type: 'unchoke' });
    for (const i of [0, 1, 2, 3]) t.session.request(i, 0);
    t.session.flush();
    t.advance(6000);
    expect(t.session.pipeline.snubbed).toBe(true);
    expect(t.session.requestRoom).toBe(1);
    expect(t.session.isSnubbing(60)).toBe(true);
    // A late answer does not lift it...
    t.feed(t.block(0));
    expect(t.session.pipeline.snubbed).toBe(true);
    // ...an answer in time does.
    t.session.request(9, 0);
    t.session.flush();
    t.feed(t.block(9));
    expect(t.session.pipeline.snubbed).toBe(false);
    expect(t.session.requestRoom).toBeGreaterThan(1);
  });

  it("drops a peer snubbed for `timeouts.snubbed`, as 'snubbed'", () => {
    const t = open({ request: 5000, snubbed: 10_000 });
    t.session.setInterested(true);
    t.feed({ type: 'unchoke' });
    t.session.request(0, 0);
    t.session.flush();
    t.advance(6000); // timed out: snubbed from here
    t.session.request(1, 0);
    t.session.flush();
    t.advance(5000);
    t.advance(5000);
    expect(t.closed).toEqual([]);
    t.advance(1000);
    expect(t.closed).toEqual(['snubbed']);
  });
});

describe('choked peers', () => {
  it("drops a peer that keeps us choked while we are interested for `timeouts.choked`, as 'choked-too-long'", () => {
    const t = open({ choked: 30_000 });
    t.advance(60_000); // not interested: no clock
    t.session.setInterested(true);
    t.advance(30_000);
    expect(t.closed).toEqual([]);
    t.advance(1000);
    expect(t.closed).toEqual(['choked-too-long']);
  });

  it('the clock starts again from its last block, and does not run while it unchokes us', () => {
    const t = open({ choked: 30_000, request: 1e9 });
    t.session.setInterested(true);
    t.feed({ type: 'unchoke' });
    t.session.request(0, 0);
    t.session.flush();
    t.advance(100_000); // unchoked: the choke rule does not apply
    t.feed(t.block(0), { type: 'choke' });
    t.advance(30_000);
    expect(t.closed).toEqual([]);
    t.advance(1000);
    expect(t.closed).toEqual(['choked-too-long']);
  });
});

describe('PeerQuality', () => {
  it('judges nothing while we are not interested, and forgets a snub then', () => {
    const q = new PeerQuality({ choked: 10, snubbed: 10 });
    expect(q.judge(1000, { interested: false, choked: true, snubbed: true })).toBeUndefined();
    q.interested(1000);
    expect(q.judge(1005, { interested: true, choked: false, snubbed: true })).toBeUndefined();
    expect(q.judge(1020, { interested: false, choked: false, snubbed: true })).toBeUndefined();
    expect(q.judge(1025, { interested: true, choked: false, snubbed: true })).toBeUndefined();
    expect(q.judge(1036, { interested: true, choked: false, snubbed: true })).toBe('snubbed');
  });
});
