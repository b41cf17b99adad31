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
    /** Dials what is due at `at`; every dial fails. Answers how many were dialled. */
    dialAt(at: number): number {
      now = at;
      const before = dialled.length;
      list.dial();
      const started = dialled.slice(before);
      for (const s of started) list.closed(s, 'connect-failed');
      return started.length;
    },
  };
}

const seed: PeerAddress = { host: '10.0.0.7', port: 6881 };

describe('PeerList', () => {
  it('gives a peer up after its dials fail in a row, backing off between them', () => {
    const h = harness(3);
    h.list.add([seed]);
    expect(h.dialAt(0)).toBe(1);
    expect(h.dialAt(500)).toBe(0); // backing off 1 s
    expect(h.dialAt(1000)).toBe(1);
    expect(h.dialAt(3000)).toBe(1); // after 2 s: the third failure
    expect(h.dialAt(1_000_000)).toBe(0); // given up
    expect(h.list.hasProspects()).toBe(false);
  });

  it('dials a given-up peer once more when a source names it again, and gives it up again if that fails', () => {
    const h = harness(3);
    h.list.add([seed]);
    for (const at of [0, 1000, 3000]) h.dialAt(at);
    expect(h.list.hasProspects()).toBe(false);
    // The tracker's next answer names the same peer: it is not new...
    expect(h.list.add([seed])).toBe(0);
    // ...but it is worth a try again, at once.
    expect(h.list.hasProspects()).toBe(true);
    expect(h.dialAt(3001)).toBe(1);
    expect(h.dialAt(1_000_000)).toBe(0);
    expect(h.list.hasProspects()).toBe(false);
  });

  it('does not dial a banned peer again, whoever names it', () => {
    const h = harness(3);
    h.list.add([seed]);
    h.list.ban(formatPeerAddress(seed.host, seed.port));
    h.list.add([seed]);
    expect(h.dialAt(0)).toBe(0);
  });
});
