import { networkInterfaces } from 'node:os';
import { TrackerError, normalizeHost } from '@seedbox/protocol';

/** Who a peer-worker is to the swarm, as its heartbeat gives it, checked before anything is announced with it. */

export interface WorkerIdentity {
  /** Stable name of the worker process (its heartbeat key). */
  workerId: string;
  /** The 20-byte peer id the worker uses in its handshakes. */
  peerId: Uint8Array;
  /**
   * The address peers should dial. Omit it when the worker is reachable at
   * the address our announce requests come from (embedded mode, same host):
   * then no `ip` is sent and the tracker uses the source address.
   */
  host?: string;
  /** The worker's listening port. */
  port: number;
}

export function checkIdentity(hb: WorkerIdentity): WorkerIdentity {
  if (typeof hb.workerId !== 'string' || hb.workerId === '') throw new TrackerError('TRACKER_BAD_FIELD', 'workerId must be a non-empty string');
  if (!(hb.peerId instanceof Uint8Array) || hb.peerId.length !== 20) {
    throw new TrackerError('TRACKER_BAD_FIELD', `worker ${hb.workerId}: peerId must be 20 bytes`);
  }
  if (!Number.isInteger(hb.port) || hb.port < 1 || hb.port > 65535) {
    throw new TrackerError('TRACKER_BAD_FIELD', `worker ${hb.workerId}: port ${hb.port} is not in 1..65535`);
  }
  let host: string | undefined;
  if (hb.host !== undefined && hb.host !== '') {
    host = normalizeHost(hb.host);
    if (host === undefined) throw new TrackerError('TRACKER_BAD_FIELD', `worker ${hb.workerId}: host '${hb.host}' is not an address`);
  }
  return { workerId: hb.workerId, peerId: Uint8Array.from(hb.peerId), port: hb.port, ...(host !== undefined ? { host } : {}) };
}

export function sameIdentity(a: WorkerIdentity, b: WorkerIdentity): boolean {
  return a.port === b.port && a.host === b.host && Buffer.from(a.peerId).equals(Buffer.from(b.peerId));
}

export function defaultLocalAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}
