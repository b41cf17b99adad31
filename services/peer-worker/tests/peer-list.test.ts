/**
 * PeerList's dialling rules, on a clock the test moves: which candidates
 * are dialled, when a failing one is given up, and when it gets another
 * try. Sessions are stand-ins that fail at once (no handshake); no socket
 * is opened.
 */
import { describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { formatPeerAddress, type PeerAddress } from '@seedbox/protocol';
import { PeerList } from '../src/peer-list.js';
import type { PeerSession } from '../src/peer-session.js';

function harness(maxDialFailures = 3) {
  let now = 0;
  const dialled: PeerSession[] = [];
  /** Addresses whose dials neither fail nor finish: they hold a session, so the list is not out of peers. */
  const hanging = new Set<string>();
  const list = new PeerList({
    maxPeers: 10,
    maxDialFailures,
    now: () => now,
    connect: () => ({}) as Socket,
    createSession: (_socket, peer) => {
      // A dial that never gets a handshake: it closes before `remote` is known.
      const session = { address: formatPeerAddress(peer.host, peer.port), direction: 'outgoing', remote: undefined, start: () => {} } as unknown as PeerSession;
      dialled.push(session);
      return session;
    },
  });
  return {
    list,
    hanging,
    /** Dials what is due at `at`; every dial fails but those to `hanging`. Answers the addresses dialled. */
    dialAt(at: number): string[] {
      now = at;
      const before = dialled.length;
      list.dial();
      const started = dialled.slice(before);
      for (const s of started) if (!hanging.has(s.address)) list.closed(s, 'connect-failed');
      return started.map((s) => s.address);
    },
  };
}

const seed: PeerAddress = { host: '10.0.0.7', port: 6881 };
const other: PeerAddress = { host: '10.0.0.8', port: 6881 };
const SEED = formatPeerAddress(seed.host, seed.port);

describe('PeerList', () => {
  it('gives a peer up after its dials fail in a row, backing off between them', () => {
    const h = harness(3);
    h.list.add([seed]);
    expect(h.dialAt(0)).toEqual([SEED]);
    expect(h.dialAt(500)).toEqual([]); // backing off 1 s
    expect(h.dialAt(1000)).toEqual([SEED]);
    expect(h.dialAt(3000)).toEqual([SEED]); // after 2 s: the third failure
    expect(h.list.hasProspects()).toBe(false);
    expect(h.dialAt(60_000)).toEqual([]);
  });

  it('still dials a given-up peer every 2 minutes while nothing else is left to try', () => {
    const h = harness(3);
    h.list.add([seed]);
    for (const at of [0, 1000, 3000]) h.dialAt(at);
    expect(h.dialAt(3000 + 119_999)).toEqual([]);
    expect(h.dialAt(3000 + 120_000)).toEqual([SEED]);
    expect(h.dialAt(3000 + 200_000)).toEqual([]);
    expect(h.dialAt(3000 + 240_000)).toEqual([SEED]);
  });

  it('leaves a given-up peer alone while another peer holds a session', () => {
    const h = harness(3);
    h.list.add([seed]);
    for (const at of [0, 1000, 3000]) h.dialAt(at);
    h.hanging.add(formatPeerAddress(other.host, other.port));
    h.list.add([other]);
    expect(h.dialAt(4000)).toEqual([formatPeerAddress(other.host, other.port)]);
    expect(h.list.hasProspects()).toBe(true);
    expect(h.dialAt(1_000_000)).toEqual([]);
  });

  it('dials a given-up peer at once when a source names it again, and gives it up again if that fails', () => {
    const h = harness(3);
    h.list.add([seed]);
    for (const at of [0, 1000, 3000]) h.dialAt(at);
    expect(h.list.hasProspects()).toBe(false);
    // The tracker's next answer names the same peer: it is not new...
    expect(h.list.add([seed])).toBe(0);
    // ...but it is worth a try again, at once.
    expect(h.list.hasProspects()).toBe(true);
    expect(h.dialAt(3001)).toEqual([SEED]);
    expect(h.list.hasProspects()).toBe(false);
    expect(h.dialAt(60_000)).toEqual([]);
  });

  it('does not dial a banned peer again, whoever names it and however stuck the list is', () => {
    const h = harness(3);
    h.list.add([seed]);
    h.list.ban(SEED);
    h.list.add([seed]);
    expect(h.dialAt(0)).toEqual([]);
    expect(h.dialAt(1_000_000)).toEqual([]);
  });
});
