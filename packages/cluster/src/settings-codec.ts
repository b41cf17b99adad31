import {
  defaultFleetConfig,
  MAX_SEED_REPLICAS,
  ENCRYPTION_MODES,
  FILE_PRIORITIES,
  NO_LIMIT,
  SHARE_ACTIONS,
  USE_GLOBAL,
  ZERO_TOTALS,
  type FilePriority,
  type FleetConfig,
  type ShareLimits,
  type SpeedLimits,
  type TorrentSettings,
  type TorrentTotals,
} from './torrent-settings.js';

/**
 * Reading settings back from the fleet's state (JSON that an older or
 * newer version, or an operator with `nats kv put`, may have written):
 * field by field, each one that does not fit its rule taking its default.
 * A torrent or the fleet then never fails to load over one odd value; the
 * rules themselves are enforced where values come in (settings-rules.ts).
 */

type Raw = Record<string, unknown>;

const obj = (v: unknown): Raw => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Raw) : {});
const nonNegative = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : d);
const shareLimit = (v: unknown, d: number, allowGlobal: boolean): number =>
  typeof v === 'number' && Number.isFinite(v) && (v >= 0 || v === NO_LIMIT || (allowGlobal && v === USE_GLOBAL)) ? v : d;
const bool = (v: unknown, d: boolean): boolean => (typeof v === 'boolean' ? v : d);
const str = (v: unknown, d: string): string => (typeof v === 'string' ? v : d);

function speed(v: unknown, d: SpeedLimits): SpeedLimits {
  const r = obj(v);
  return { download: nonNegative(r.download, d.download), upload: nonNegative(r.upload, d.upload) };
}

function share(v: unknown, d: ShareLimits, allowGlobal: boolean): ShareLimits {
  const r = obj(v);
  return {
    ratio: shareLimit(r.ratio, d.ratio, allowGlobal),
    seedingMinutes: shareLimit(r.seedingMinutes, d.seedingMinutes, allowGlobal),
    inactiveMinutes: shareLimit(r.inactiveMinutes, d.inactiveMinutes, allowGlobal),
  };
}

export function decodeTorrentSettings(v: unknown, d: TorrentSettings): TorrentSettings {
  const r = obj(v);
  const tags = Array.isArray(r.tags) ? r.tags.filter((t): t is string => typeof t === 'string' && t !== '') : d.tags;
  const priorities = Array.isArray(r.filePriorities) && r.filePriorities.every((p) => FILE_PRIORITIES.includes(p as FilePriority)) ? (r.filePriorities as FilePriority[]) : d.filePriorities;
  return {
    category: str(r.category, d.category),
    tags: [...new Set(tags)],
    ...(typeof r.savePath === 'string' ? { savePath: r.savePath } : d.savePath !== undefined ? { savePath: d.savePath } : {}),
    limits: speed(r.limits, d.limits),
    share: share(r.share, d.share, true),
    queueKey: typeof r.queueKey === 'number' && Number.isFinite(r.queueKey) ? r.queueKey : d.queueKey,
    forceStart: bool(r.forceStart, d.forceStart),
    sequential: bool(r.sequential, d.sequential),
    firstLastPiece: bool(r.firstLastPiece, d.firstLastPiece),
    filePriorities: priorities,
  };
}

export function decodeFleetConfig(v: unknown): FleetConfig {
  const d = defaultFleetConfig();
  const r = obj(v);
  const q = obj(r.queue);
  const categories: FleetConfig['categories'] = {};
  for (const [name, c] of Object.entries(obj(r.categories))) {
    const savePath = obj(c).savePath;
    if (name !== '' && typeof savePath === 'string') categories[name] = { savePath };
  }
  const action = SHARE_ACTIONS.find((a) => a === r.shareAction);
  // Anything but a known mode is read as unset: each process's own SEEDBOX_ENCRYPTION.
  const encryption = ENCRYPTION_MODES.find((m) => m === r.encryption);
  // Likewise anything but a boolean: each process's own SEEDBOX_DHT.
  const dht = typeof r.dht === 'boolean' ? r.dht : undefined;
  // And anything but a count: the default (DEFAULT_SEED_REPLICAS).
  const seedReplicas = replicas(r.seedReplicas);
  const privateSeedReplicas = replicas(r.privateSeedReplicas);
  return {
    speed: speed(r.speed, d.speed),
    altSpeed: speed(r.altSpeed, d.altSpeed),
    altSpeedEnabled: bool(r.altSpeedEnabled, d.altSpeedEnabled),
    queue: {
      enabled: bool(q.enabled, d.queue.enabled),
      maxActiveDownloads: queueLimit(q.maxActiveDownloads, d.queue.maxActiveDownloads),
      maxActiveSeeds: queueLimit(q.maxActiveSeeds, d.queue.maxActiveSeeds),
      maxActiveTorrents: queueLimit(q.maxActiveTorrents, d.queue.maxActiveTorrents),
      ignoreSlow: bool(q.ignoreSlow, d.queue.ignoreSlow),
      slowDownloadRate: nonNegative(q.slowDownloadRate, d.queue.slowDownloadRate),
      slowUploadRate: nonNegative(q.slowUploadRate, d.queue.slowUploadRate),
      slowSeconds: nonNegative(q.slowSeconds, d.queue.slowSeconds),
    },
    share: share(r.share, d.share, false),
    shareAction: action ?? d.shareAction,
    categories,
    ...(encryption !== undefined && { encryption }),
    ...(dht !== undefined && { dht }),
    ...(seedReplicas !== undefined && { seedReplicas }),
    ...(privateSeedReplicas !== undefined && { privateSeedReplicas }),
  };
}

function replicas(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= MAX_SEED_REPLICAS ? v : undefined;
}

/** A whole number of torrents, or -1 for no limit. */
function queueLimit(v: unknown, d: number): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= -1 ? v : d;
}

export function decodeTotals(v: unknown): TorrentTotals {
  const r = obj(v);
  const z = ZERO_TOTALS;
  return {
    uploaded: nonNegative(r.uploaded, z.uploaded),
    downloaded: nonNegative(r.downloaded, z.downloaded),
    seedingMs: nonNegative(r.seedingMs, z.seedingMs),
    activeMs: nonNegative(r.activeMs, z.activeMs),
    lastActivityAt: nonNegative(r.lastActivityAt, z.lastActivityAt),
    completedAt: nonNegative(r.completedAt, z.completedAt),
  };
}

/** JSON bytes, as the stores keep config and totals. */
export function encodeJson(v: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(v));
}

/** Parsed JSON, or undefined when the bytes are not JSON (read as the defaults). */
export function parseJson(bytes: Uint8Array | undefined): unknown {
  if (!bytes) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}
