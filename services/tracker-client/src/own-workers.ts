import { normalizeHost, peerKey } from '@seedbox/protocol';
import type { WorkerIdentity } from './worker-identity.js';

/**
 * Tells our own workers apart in the peer lists trackers and the DHT send
 * back, so that no worker is handed itself or a sibling: by peer id, by
 * the announced address and port, and for a worker announced without an
 * address by any of our own addresses (local interfaces, and the external
 * address trackers report seeing, BEP 24) with its port. The sets are
 * built on the first question after a change and kept until the next one.
 */
export class OwnWorkers {
  private readonly externalIps = new Set<string>();
  private keys: Set<string> | undefined;
  private peerIds: Set<string> | undefined;

  constructor(
    private readonly workers: () => Iterable<WorkerIdentity>,
    private readonly localAddresses: () => Iterable<string>,
  ) {}

  /** The workers changed: ask again next time. */
  changed(): void {
    this.keys = undefined;
    this.peerIds = undefined;
  }

  /** A tracker said it sees us at `address` (BEP 24 `external ip`). */
  seenAt(address: string): void {
    if (this.externalIps.has(address)) return;
    this.externalIps.add(address);
    this.keys = undefined;
  }

  has(peer: { host: string; port: number; peerId?: Uint8Array }): boolean {
    if (!this.keys || !this.peerIds) {
      const keys = new Set<string>();
      const ids = new Set<string>();
      let local: string[] | undefined;
      for (const identity of this.workers()) {
        ids.add(Buffer.from(identity.peerId).toString('hex'));
        if (identity.host !== undefined) {
          keys.add(peerKey(normalizeHost(identity.host)!, identity.port));
          continue;
        }
        local ??= [...this.localAddresses(), ...this.externalIps].flatMap((a) => normalizeHost(a) ?? []);
        for (const address of local) keys.add(peerKey(address, identity.port));
      }
      this.keys = keys;
      this.peerIds = ids;
    }
    if (peer.peerId && this.peerIds.has(Buffer.from(peer.peerId).toString('hex'))) return true;
    return this.keys.has(peerKey(peer.host, peer.port));
  }
}
