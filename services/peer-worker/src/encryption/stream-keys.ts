import { sha1 } from '@seedbox/protocol';

/**
 * Finds which of our torrents an encrypted handshake is for. The initiator
 * names its torrent only as SHA-1('req2', info hash), so the listener keeps
 * that hash of every torrent it serves. Torrents come and go, so the index
 * is rebuilt on a miss, but at most once a second: a stream of made-up
 * names cannot make us hash every torrent for each connection.
 */
export class StreamKeys {
  private byReq2 = new Map<string, Buffer>();
  private builtAt = -Infinity;

  constructor(
    /** The info hashes (hex) of every torrent incoming peers may ask for. */
    private readonly infoHashes: () => Iterable<string>,
    private readonly now: () => number = Date.now,
  ) {}

  find(req2: Uint8Array): Uint8Array | undefined {
    const key = Buffer.from(req2).toString('hex');
    const hit = this.byReq2.get(key);
    if (hit || this.now() - this.builtAt < 1000) return hit;
    this.rebuild();
    return this.byReq2.get(key);
  }

  private rebuild(): void {
    const next = new Map<string, Buffer>();
    for (const hex of this.infoHashes()) {
      const infoHash = Buffer.from(hex, 'hex');
      next.set(sha1('req2', infoHash).toString('hex'), infoHash);
    }
    this.byReq2 = next;
    this.builtAt = this.now();
  }
}
