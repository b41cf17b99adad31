import type { Peer, TorrentPeersResponse } from '../types.js';

/**
 * The client side of sync/torrentPeers, as maindata.ts is of
 * sync/maindata: a full picture first, then only what changed (changed
 * keys of known peers, new peers in full, the keys of those gone), asked
 * for with the rid of the last answer. Pure, no DOM.
 */

export interface PeersState {
  rid: number;
  /** By "ip:port", as the server keys them. */
  peers: ReadonlyMap<string, Peer>;
}

export const NO_PEERS: PeersState = { rid: 0, peers: new Map() };

function blankPeer(key: string): Peer {
  const colon = key.lastIndexOf(':');
  return { ip: colon > 0 ? key.slice(0, colon).replace(/^\[|\]$/g, '') : key, port: Number(key.slice(colon + 1)) || 0, client: '', flags: '', flags_desc: '', progress: 0, dl_speed: 0, up_speed: 0, downloaded: 0, uploaded: 0 };
}

export function mergePeers(state: PeersState | undefined, answer: TorrentPeersResponse): PeersState {
  const full = answer.full_update === true || state === undefined;
  const peers = new Map(full ? [] : state.peers);
  for (const [key, diff] of Object.entries(answer.peers ?? {})) peers.set(key, { ...(peers.get(key) ?? blankPeer(key)), ...diff });
  for (const key of answer.peers_removed ?? []) peers.delete(key);
  return { rid: answer.rid, peers };
}

/** The busiest first (down and up together), then by address, so the rows do not jump about when all are idle. */
export function sortedPeers(state: PeersState): [string, Peer][] {
  return [...state.peers].sort(([ka, a], [kb, b]) => b.dl_speed + b.up_speed - (a.dl_speed + a.up_speed) || (ka < kb ? -1 : ka > kb ? 1 : 0));
}
