import { describe, expect, it } from 'vitest';
import { WorkerHeartbeat } from '@seedbox/proto';
import { workerOfBeat } from '../src/heartbeat-inbox.js';

/**
 * The tracker-client keeps only each worker's latest full heartbeat (they
 * list every torrent: thousands), and queues its partial ones, keyed by
 * the worker id read from the encoded bytes without decoding the rest.
 */
describe('workerOfBeat', () => {
  const beat = (workerId: string, n = 3): Uint8Array =>
    WorkerHeartbeat.encode({
      workerId,
      peerId: Buffer.alloc(20),
      announceHost: '',
      listenPort: 6881,
      timeMs: 1,
      seq: 1,
      gone: [],
      torrents: Array.from({ length: n }, (_, i) => ({ infoHash: i.toString(16).padStart(40, '0'), uploaded: 0, downloaded: 0, left: 0, complete: true, trackers: [] })),
    }).finish();

  it('reads the worker id of a heartbeat as the encoder writes it, short or long, with any number of torrents', () => {
    expect(workerOfBeat(beat('pw-1'))).toBe('pw-1');
    expect(workerOfBeat(beat('seedbox-peer-worker-7d9f8c6b5-x2x9q', 10_000))).toBe('seedbox-peer-worker-7d9f8c6b5-x2x9q');
    const long = 'w'.repeat(300); // a two-byte length
    expect(workerOfBeat(beat(long))).toBe(long);
  });

  it('says undefined for a heartbeat without an id first, and for garbage, never throwing', () => {
    expect(workerOfBeat(beat(''))).toBeUndefined();
    expect(workerOfBeat(new Uint8Array([]))).toBeUndefined();
    expect(workerOfBeat(new Uint8Array([0x0a, 0x7f, 0x41]))).toBeUndefined(); // a length past the end
    expect(workerOfBeat(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff]))).toBeUndefined();
  });
});
