import { Bitfield } from '@seedbox/protocol';
import { decodeTorrentSettings } from './settings-codec.js';
import { defaultTorrentSettings, type TorrentSettings } from './torrent-settings.js';

/**
 * What the fleet's state holds, however it is stored (JetStream buckets in
 * the fleet, files for `seedbox serve`): the registry entry, a worker's
 * entry, and how an entry is written, the same JSON in both stores.
 */

export type DesiredState = 'running' | 'paused';

export interface RegistryEntry {
  infoHashHex: string;
  /** The .torrent file; empty while the entry awaits its metadata (`magnet`). */
  torrentFile: Uint8Array;
  desired: DesiredState;
  addedAt: number;
  /**
   * Rechecks asked for so far: a worker running the torrent checks its
   * data again whenever this grows past the count it last ran.
   */
  rechecks: number;
  settings: TorrentSettings;
  /**
   * The seeding rule that paused it: it stays paused, across restarts,
   * until resumed by hand (which clears this) or the limit is raised.
   */
  limitReached?: ShareRule | undefined;
  /** A move of its data to this save folder is under way (see TorrentSettings.savePath). */
  moveTo?: string | undefined;
  /**
   * The last move of its data failed: where to, why, and when. The data
   * stayed where it was and the torrent runs from there; a later move
   * (or a successful one) clears it.
   */
  moveError?: MoveError | undefined;
  /**
   * A small number, unique in the fleet, from FleetStore.nextTorrentId at
   * add time: the id Transmission's RPC and transmission-remote's `-t N`
   * use. Absent on entries written before ids were given.
   */
  id?: number | undefined;
  /**
   * Added from this magnet URI and still without its metadata (the info
   * dictionary, BEP 9): `torrentFile` is empty until the torrent's owner
   * fetches it and writes the .torrent here, clearing this. As qBittorrent
   * and Transmission keep a magnet torrent "downloading metadata", the
   * entry exists (id, settings, paused, queue place) from the add on.
   */
  magnet?: string | undefined;
  /** Why the last attempt at the metadata failed (it is tried again); cleared once it is in. */
  metadataError?: string | undefined;
}

/** The entry is a magnet link whose metadata is not in yet: it has no .torrent to parse. */
export function awaitingMetadata(e: Pick<RegistryEntry, 'magnet'>): boolean {
  return e.magnet !== undefined;
}

export interface MoveError {
  /** The save folder asked for, relative to the data folder. */
  to: string;
  message: string;
  /** ms since the epoch. */
  at: number;
}

export type ShareRule = 'ratio' | 'seeding-time' | 'inactive-time';
export const SHARE_RULES: readonly ShareRule[] = ['ratio', 'seeding-time', 'inactive-time'];

export interface WorkerEntry {
  workerId: string;
  peerIdHex: string;
  host?: string;
  port: number;
  /** gRPC control endpoint of the worker, host:port. */
  grpc?: string;
  time: number;
}


/** The registry value, as stored. JSON, because operators read it with `nats kv get`. */
interface StoredRegistryEntry {
  v: 1;
  torrent: string; // base64
  desired: DesiredState;
  addedAt: number;
  rechecks?: number;
  settings?: unknown;
  limitReached?: string;
  moveTo?: string;
  moveError?: MoveError;
  id?: number;
  magnet?: string;
  metadataError?: string;
}

export class FleetStateError extends Error {
  override readonly name = 'FleetStateError';
  constructor(
    readonly code: 'FLEET_BAD_ENTRY' | 'FLEET_CONFLICT',
    message: string,
  ) {
    super(message);
  }
}

export function encodeEntry(e: RegistryEntry): Uint8Array {
  const stored: StoredRegistryEntry = {
    v: 1,
    torrent: Buffer.from(e.torrentFile).toString('base64'),
    desired: e.desired,
    addedAt: e.addedAt,
    rechecks: e.rechecks,
    settings: e.settings,
    ...(e.limitReached ? { limitReached: e.limitReached } : {}),
    ...(e.moveTo !== undefined ? { moveTo: e.moveTo } : {}),
    ...(e.moveError !== undefined ? { moveError: e.moveError } : {}),
    ...(e.id !== undefined ? { id: e.id } : {}),
    ...(e.magnet !== undefined ? { magnet: e.magnet } : {}),
    ...(e.metadataError !== undefined ? { metadataError: e.metadataError } : {}),
  };
  return new TextEncoder().encode(JSON.stringify(stored));
}

export function decodeEntry(key: string, value: Uint8Array): RegistryEntry {
  let s: Partial<StoredRegistryEntry>;
  try {
    s = JSON.parse(new TextDecoder().decode(value)) as Partial<StoredRegistryEntry>;
  } catch {
    throw new FleetStateError('FLEET_BAD_ENTRY', `registry entry ${key} is not JSON`);
  }
  if (s.v !== 1 || typeof s.torrent !== 'string' || (s.desired !== 'running' && s.desired !== 'paused') || typeof s.addedAt !== 'number') {
    throw new FleetStateError('FLEET_BAD_ENTRY', `registry entry ${key} is not a version-1 entry`);
  }
  const rechecks = typeof s.rechecks === 'number' && Number.isSafeInteger(s.rechecks) && s.rechecks >= 0 ? s.rechecks : 0;
  // Settings are read field by field: one an older or newer version wrote
  // badly falls back to its default rather than losing the torrent.
  const settings = decodeTorrentSettings(s.settings, defaultTorrentSettings(s.addedAt));
  const limitReached = SHARE_RULES.find((r) => r === s.limitReached);
  return {
    infoHashHex: key,
    torrentFile: Buffer.from(s.torrent, 'base64'),
    desired: s.desired,
    addedAt: s.addedAt,
    rechecks,
    settings,
    ...(limitReached ? { limitReached } : {}),
    ...(typeof s.moveTo === 'string' ? { moveTo: s.moveTo } : {}),
    ...(moveErrorOf(s.moveError) ?? {}),
    ...(typeof s.id === 'number' && Number.isSafeInteger(s.id) && s.id > 0 ? { id: s.id } : {}),
    ...(typeof s.magnet === 'string' && /^magnet:\?/i.test(s.magnet) ? { magnet: s.magnet } : {}),
    ...(typeof s.metadataError === 'string' ? { metadataError: s.metadataError } : {}),
  };
}

/** A stored move error, read only when every field has its type (an odd one is dropped, not the entry). */
function moveErrorOf(v: unknown): { moveError: MoveError } | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { to, message, at } = v as Record<string, unknown>;
  return typeof to === 'string' && typeof message === 'string' && typeof at === 'number' && Number.isFinite(at) ? { moveError: { to, message, at } } : undefined;
}

/** A stored bitfield; one with spare bits set (not ours) is read as empty rather than trusted. */
export function bitfieldFrom(bytes: Uint8Array, pieceCount: number): Bitfield {
  try {
    return Bitfield.fromBytes(bytes, pieceCount);
  } catch {
    return new Bitfield(pieceCount);
  }
}

/** Stored bitfield bytes read for `pieceCount` pieces (empty when they do not fit). */
export function readBitfield(bytes: Uint8Array | undefined, pieceCount: number): Bitfield {
  return bytes && bytes.length === Math.ceil(pieceCount / 8) ? bitfieldFrom(bytes, pieceCount) : new Bitfield(pieceCount);
}
