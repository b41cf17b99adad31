/**
 * Service heartbeats: the codec (every rule a typed error naming the
 * field; random bytes never anything else), and sending and watching over
 * a real nats-server, where a malformed heartbeat between good ones is
 * skipped and the watch goes on.
 */
import fc from 'fast-check';
import { connect, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  decodeServiceHeartbeat,
  encodeServiceHeartbeat,
  MAX_HEARTBEAT_BYTES,
  sendHeartbeats,
  SERVICE_HEARTBEAT,
  ServiceHeartbeatError,
  watchServiceHeartbeats,
  type ServiceHeartbeat,
} from '../src/index.js';
import { startNatsServer } from '../../../test/support/nats.js';
import { cleanupAfter, cleanupAll, cleanupMark, onCleanup, waitFor } from '../../../test/support/processes.js';
import { needTool, tools } from '../../../test/support/tools.js';

const HB: ServiceHeartbeat = {
  kind: 'disk-writer',
  instance: 'dw-0',
  version: '0.1.0',
  startedAt: 1_700_000_000_000,
  sentAt: 1_700_000_012_000,
  ready: true,
  leaving: false,
  figures: { piecesPerSecond: 2.5, bytesPerSecond: 2_621_440, failedPieces: 0, piecesInProgress: 1 },
};

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const wire = (over: Record<string, unknown>): Uint8Array => enc({ ...JSON.parse(new TextDecoder().decode(encodeServiceHeartbeat(HB))), ...over });

function refusal(bytes: Uint8Array): ServiceHeartbeatError {
  try {
    decodeServiceHeartbeat(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(ServiceHeartbeatError);
    return e as ServiceHeartbeatError;
  }
  throw new Error('the heartbeat was taken');
}

describe('the heartbeat codec', () => {
  it('round-trips a heartbeat, and a reason for not being ready and the leaving mark', () => {
    expect(decodeServiceHeartbeat(encodeServiceHeartbeat(HB))).toEqual(HB);
    const leaving = { ...HB, kind: 'peer-worker' as const, ready: 'shutting down', leaving: true, figures: { torrents: 3 } };
    expect(decodeServiceHeartbeat(encodeServiceHeartbeat(leaving))).toEqual(leaving);
    // Small: half a hertz per process.
    expect(encodeServiceHeartbeat(HB).byteLength).toBeLessThan(400);
  });

  it('leaves out figures it could not send (not finite, odd names) rather than send what readers refuse', () => {
    const hb = { ...HB, figures: { good: 1, bad: Number.NaN, inf: Infinity, 'odd name': 2, __proto__x: 3 } };
    expect(decodeServiceHeartbeat(encodeServiceHeartbeat(hb)).figures).toEqual({ good: 1 });
  });

  it('names the field of each broken rule', () => {
    const cases: [Uint8Array, string, RegExp][] = [
      [enc('not json'), '', /must be JSON/],
      [enc([1, 2]), '', /JSON object/],
      [enc('null'), '', /JSON object/],
      [wire({ v: 2 }), 'v', /version 2 is not understood/],
      [wire({ kind: 'web-ui' }), 'kind', /kind "web-ui" is none of/],
      [wire({ instance: '' }), 'instance', /non-empty string/],
      [wire({ instance: 'x'.repeat(300) }), 'instance', /at most 256/],
      [wire({ version: 7 }), 'version', /non-empty string/],
      [wire({ startedAt: -1 }), 'startedAt', /positive whole number/],
      [wire({ sentAt: 'now' }), 'sentAt', /positive whole number/],
      [wire({ ready: false }), 'ready', /true or the reason/],
      [wire({ leaving: 'yes' }), 'leaving', /boolean/],
      [wire({ figures: [1] }), 'figures', /object of numbers/],
      [wire({ figures: { rate: 'fast' } }), 'figures', /not a finite number/],
      [wire({ figures: { 'a b': 1 } }), 'figures', /not a plain name/],
      [wire({ figures: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${i}`, i])) }), 'figures', /40 figures; at most 32/],
      [new Uint8Array(MAX_HEARTBEAT_BYTES + 1).fill(32), '', /at most 4096 bytes/],
      [new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), '', /must be JSON/],
    ];
    for (const [bytes, field, message] of cases) {
      const e = refusal(bytes);
      expect(e.field, e.message).toBe(field);
      expect(e.message).toMatch(message);
    }
  });

  it('answers random bytes and random JSON with a ServiceHeartbeatError, never another throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        try {
          decodeServiceHeartbeat(bytes);
        } catch (e) {
          return e instanceof ServiceHeartbeatError;
        }
        return true;
      }),
    );
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          decodeServiceHeartbeat(enc(JSON.stringify(v)));
        } catch (e) {
          return e instanceof ServiceHeartbeatError;
        }
        return true;
      }),
    );
  });
});

const nats = needTool(tools.natsServer);

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

describe.skipIf(!nats.available)('heartbeats over NATS', () => {
  async function connected(url: string): Promise<NatsConnection> {
    const nc = await connect({ servers: url });
    onCleanup('close NATS', () => nc.close());
    return nc;
  }

  it('sends one at once and one each interval, and a last one marked leaving; the watch skips a malformed one between them', async () => {
    const server = await startNatsServer();
    const sender = await connected(server.url);
    const watcher = await connected(server.url);
    const seen: ServiceHeartbeat[] = [];
    const malformed: ServiceHeartbeatError[] = [];
    watchServiceHeartbeats(watcher, (hb) => seen.push(hb), (e) => malformed.push(e));
    await watcher.flush();

    let ready: true | string = 'starting';
    let calls = 0;
    const beats = sendHeartbeats({
      nc: sender,
      kind: 'tracker-client',
      instance: 'tc-1',
      version: '0.1.0',
      startedAt: Date.now(),
      ready: () => ready,
      figures: () => {
        // A figure that fails once: that beat goes without figures.
        if (++calls === 2) throw new Error('not yet');
        return { torrentsAnnounced: calls };
      },
      intervalMs: 100,
    });
    sender.publish(SERVICE_HEARTBEAT, enc('{"v":1,"kind":'));
    sender.publish(SERVICE_HEARTBEAT, enc({ v: 1, kind: 'tracker-client', instance: 'x', version: '1', startedAt: 1, sentAt: 1, ready: true, figures: { n: 'many' } }));
    await waitFor(() => seen.length >= 3, 5000, 'three heartbeats');
    ready = true;
    await waitFor(() => seen.at(-1)?.ready === true, 5000, 'a ready heartbeat');
    beats.stop();
    await sender.flush();
    await waitFor(() => seen.at(-1)?.leaving === true, 5000, 'the leaving heartbeat');

    expect(seen[0]).toMatchObject({ kind: 'tracker-client', instance: 'tc-1', ready: 'starting', leaving: false, figures: { torrentsAnnounced: 1 } });
    expect(seen[1]!.figures).toEqual({});
    expect(seen.slice(0, -1).every((hb) => !hb.leaving)).toBe(true);
    expect(malformed.map((e) => e.field)).toEqual(['', 'figures']);
    // Nothing after the goodbye.
    const count = seen.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.length).toBe(count);
  });
});
