import { resolve } from 'node:path';
import type { EncryptionMode, FleetConfig, FleetConfigPatch, QueueConfig } from '@seedbox/cluster';
import type { TorrentRecord, TorrentStatsView } from '../../control/backend.js';
import { optBool, optInt, optNumber, optString, TrRpcError, type TrArgs } from './tr-args.js';
import { fromKBps, globalShareFrom, speedFromPair, toKBps, UNITS } from './tr-limits.js';

/**
 * The session's settings and figures (rpc-spec 4.1, 4.2) from the fleet's
 * config and records, and session-set's arguments as a config patch. Pure.
 *
 * What seedbox does not do is said as it is: no local peer discovery,
 * uTP, blocklist, scripts, schedule or port forwarding, and session-set
 * refuses to turn any of them on; PEX is always on for public torrents,
 * and refuses to be turned off. Settings seedbox takes from its
 * environment (the peer port, peer limits) are not shown, as nothing here
 * knows them, and session-set refuses them, naming the variable.
 * `encryption` (the MSE/PE handshake) is the fleet's policy, read and set
 * here as Transmission's three values (see ENCRYPTION_TO_TR), and
 * `dht-enabled` the fleet's DHT switch.
 */

/** The Transmission release whose RPC this is (rpc-version 17 is 4.0's), so clients such as Sonarr turn on what 4.0 has (labels). */
export const TRANSMISSION_VERSION = '4.0.6';
export const RPC_VERSION = 17;
/** Transmission 4.0's own minimum: clients written for 2.40 (rpc-version 14) and later work with it. */
export const RPC_VERSION_MINIMUM = 14;
export const RPC_VERSION_SEMVER = '5.3.0';

/**
 * Transmission's encryption modes for seedbox's policies. Transmission's
 * "tolerated" prefers plaintext but still accepts encrypted connections;
 * seedbox's `disable` dials plain only and refuses an encrypted handshake.
 * Transmission has no "plain only", so "tolerated" is the nearest of its
 * three, not the same.
 */
const ENCRYPTION_TO_TR: Record<EncryptionMode, string> = { prefer: 'preferred', require: 'required', disable: 'tolerated' };

export interface SessionFacts {
  config: FleetConfig;
  /** The encryption policy in force: the config's, else this process's SEEDBOX_ENCRYPTION. */
  encryption: EncryptionMode;
  /** Whether public torrents go on the DHT: the config's switch, else this process's SEEDBOX_DHT. */
  dht: boolean;
  dataDir: string;
  /** seedbox's version. */
  version: string;
  sessionId: string;
  loginRequired: boolean;
}

const SESSION_FIELDS: Record<string, (s: SessionFacts) => unknown> = {
  'alt-speed-down': (s) => toKBps(s.config.altSpeed.download),
  'alt-speed-enabled': (s) => s.config.altSpeedEnabled,
  'alt-speed-time-enabled': () => false,
  'alt-speed-up': (s) => toKBps(s.config.altSpeed.upload),
  // Five failed logins from an address ban it, whenever a login is asked.
  'anti-brute-force-enabled': (s) => s.loginRequired,
  'blocklist-enabled': () => false,
  'blocklist-size': () => 0,
  'default-trackers': () => '',
  'dht-enabled': (s) => s.dht,
  'download-dir': (s) => s.dataDir,
  'download-queue-enabled': (s) => s.config.queue.enabled && s.config.queue.maxActiveDownloads >= 0,
  // -1 while there is none; writing it back is harmless.
  'download-queue-size': (s) => s.config.queue.maxActiveDownloads,
  encryption: (s) => ENCRYPTION_TO_TR[s.encryption],
  'idle-seeding-limit': (s) => s.config.share.inactiveMinutes,
  'idle-seeding-limit-enabled': (s) => s.config.share.inactiveMinutes >= 0,
  'incomplete-dir-enabled': () => false,
  'lpd-enabled': () => false,
  'peer-port-random-on-start': () => false,
  'pex-enabled': () => true,
  'port-forwarding-enabled': () => false,
  'queue-stalled-enabled': (s) => s.config.queue.ignoreSlow,
  'queue-stalled-minutes': (s) => Math.round(s.config.queue.slowSeconds / 60),
  'rpc-version': () => RPC_VERSION,
  'rpc-version-minimum': () => RPC_VERSION_MINIMUM,
  'rpc-version-semver': () => RPC_VERSION_SEMVER,
  'script-torrent-added-enabled': () => false,
  'script-torrent-done-enabled': () => false,
  'script-torrent-done-seeding-enabled': () => false,
  'seed-queue-enabled': (s) => s.config.queue.enabled && s.config.queue.maxActiveSeeds >= 0,
  'seed-queue-size': (s) => s.config.queue.maxActiveSeeds,
  seedRatioLimit: (s) => s.config.share.ratio,
  seedRatioLimited: (s) => s.config.share.ratio >= 0,
  'session-id': (s) => s.sessionId,
  'speed-limit-down': (s) => toKBps(s.config.speed.download),
  'speed-limit-down-enabled': (s) => s.config.speed.download > 0,
  'speed-limit-up': (s) => toKBps(s.config.speed.upload),
  'speed-limit-up-enabled': (s) => s.config.speed.upload > 0,
  'start-added-torrents': () => true,
  'tcp-enabled': () => true,
  units: () => structuredClone(UNITS),
  'utp-enabled': () => false,
  version: (s) => `${TRANSMISSION_VERSION} (seedbox ${s.version})`,
};

/** Fields answered only by a look at the disk (session-get's deprecated free space), which the caller adds. */
export const FREE_SPACE_FIELD = 'download-dir-free-space';

/** The settings asked (every one when `fields` is absent); unknown names are skipped, as Transmission does. */
export function sessionFields(s: SessionFacts, fields: readonly string[] | undefined): Record<string, unknown> {
  const names = fields ?? Object.keys(SESSION_FIELDS);
  const out: Record<string, unknown> = {};
  for (const name of names) if (Object.hasOwn(SESSION_FIELDS, name)) out[name] = SESSION_FIELDS[name]!(s);
  return out;
}

/** Switches seedbox has not got: the one value each can take, and why. */
const FIXED: Record<string, { value: boolean | string; why: string }> = {
  'alt-speed-time-enabled': { value: false, why: 'seedbox has no schedule for the alternative speeds' },
  'blocklist-enabled': { value: false, why: 'seedbox has no blocklist' },
  'default-trackers': { value: '', why: 'seedbox adds no trackers to torrents' },
  'incomplete-dir-enabled': { value: false, why: 'seedbox keeps incomplete torrents where they will stay' },
  'lpd-enabled': { value: false, why: 'seedbox has no local peer discovery' },
  'peer-port-random-on-start': { value: false, why: 'the peer port is SEEDBOX_LISTEN_PORT (--listen-port)' },
  'pex-enabled': { value: true, why: 'seedbox exchanges peers (PEX) for every public torrent, and never for a private one' },
  'port-forwarding-enabled': { value: false, why: 'seedbox does not ask routers to forward its port' },
  'script-torrent-added-enabled': { value: false, why: 'seedbox runs no scripts' },
  'script-torrent-done-enabled': { value: false, why: 'seedbox runs no scripts' },
  'script-torrent-done-seeding-enabled': { value: false, why: 'seedbox runs no scripts' },
  'start-added-torrents': { value: true, why: 'a torrent starts when added unless it is added paused' },
  'tcp-enabled': { value: true, why: 'seedbox speaks to peers over TCP only' },
  'utp-enabled': { value: false, why: 'seedbox speaks to peers over TCP only' },
};

/** Settings seedbox takes from its environment, not over RPC. */
const FROM_ENVIRONMENT: Record<string, string> = {
  'peer-port': 'SEEDBOX_LISTEN_PORT (--listen-port)',
  'peer-limit-global': 'SEEDBOX_MAX_CONNECTIONS (--max-connections)',
  'peer-limit-per-torrent': 'SEEDBOX_MAX_PEERS (--max-peers)',
};

function checkFixed(args: TrArgs, s: Pick<SessionFacts, 'dataDir' | 'loginRequired'>): void {
  for (const [key, { value, why }] of Object.entries(FIXED)) {
    const asked = typeof value === 'boolean' ? optBool(args, key) : optString(args, key);
    if (asked !== undefined && asked !== value) throw new TrRpcError('unsupported', `${key} cannot be ${JSON.stringify(asked)}: ${why}`);
  }
  for (const [key, variable] of Object.entries(FROM_ENVIRONMENT)) {
    if (args[key] !== undefined) throw new TrRpcError('unsupported', `${key} is set by ${variable}, not over RPC`);
  }
  const dir = optString(args, 'download-dir');
  if (dir !== undefined && resolve(s.dataDir, dir) !== resolve(s.dataDir)) {
    throw new TrRpcError('unsupported', `download-dir cannot be ${dir}: the default is the data folder ${s.dataDir}; give torrent-add a download-dir inside it instead`);
  }
  const brute = optBool(args, 'anti-brute-force-enabled');
  if (brute !== undefined && brute !== s.loginRequired) {
    throw new TrRpcError('unsupported', `anti-brute-force-enabled is ${s.loginRequired}: addresses are banned after failed logins whenever a login is asked`);
  }
}

/**
 * The queue switches. seedbox has one switch for queueing and a limit per
 * kind (-1: none), so a Transmission queue that is off is a limit of -1,
 * and queueing stops when both are off.
 */
function queuePatch(args: TrArgs, q: QueueConfig): Partial<QueueConfig> | undefined {
  const patch: Partial<QueueConfig> = {};
  const next = { ...q };
  const kinds = [
    ['download', 'maxActiveDownloads'],
    ['seed', 'maxActiveSeeds'],
  ] as const;
  let switchedOff = false;
  for (const [kind, key] of kinds) {
    const size = optInt(args, `${kind}-queue-size`);
    if (size !== undefined) next[key] = patch[key] = size;
    const on = optBool(args, `${kind}-queue-enabled`);
    if (on === false) {
      next[key] = patch[key] = -1;
      switchedOff = true;
    } else if (on === true) {
      if (next[key] < 0) throw new TrRpcError('argument', `queue-limit: ${kind}-queue-enabled needs a ${kind}-queue-size: seedbox keeps no size for a queue that is off`);
      next.enabled = patch.enabled = true;
    }
  }
  if (switchedOff && next.enabled && next.maxActiveDownloads < 0 && next.maxActiveSeeds < 0) patch.enabled = false;
  const stalled = optBool(args, 'queue-stalled-enabled');
  if (stalled !== undefined) patch.ignoreSlow = stalled;
  const minutes = optInt(args, 'queue-stalled-minutes');
  if (minutes !== undefined) patch.slowSeconds = minutes * 60;
  return Object.keys(patch).length > 0 ? patch : undefined;
}

/**
 * session-set's arguments as a config patch: speeds (kB/s to bytes/s),
 * the alternative speeds, the seeding limits, the queue, encryption and DHT. Throws
 * TrRpcError for what seedbox cannot do; the settings rules of the values
 * are the backend's. Arguments not named here are ignored, as Transmission
 * ignores what it does not know.
 */
export function sessionPatch(args: TrArgs, s: Pick<SessionFacts, 'config' | 'dataDir' | 'loginRequired'>): FleetConfigPatch {
  checkFixed(args, s);
  const c = s.config;
  const patch: FleetConfigPatch = {};
  const download = speedFromPair({ limit: 'speed-limit-down', limited: 'speed-limit-down-enabled' }, optInt(args, 'speed-limit-down'), optBool(args, 'speed-limit-down-enabled'), c.speed.download);
  const upload = speedFromPair({ limit: 'speed-limit-up', limited: 'speed-limit-up-enabled' }, optInt(args, 'speed-limit-up'), optBool(args, 'speed-limit-up-enabled'), c.speed.upload);
  if (download !== undefined || upload !== undefined) patch.speed = { ...(download !== undefined && { download }), ...(upload !== undefined && { upload }) };
  // The alternative pair has no switch of its own in Transmission; 0 is "no limit" here, as everywhere in seedbox.
  const altDown = optInt(args, 'alt-speed-down');
  const altUp = optInt(args, 'alt-speed-up');
  if (altDown !== undefined || altUp !== undefined) {
    patch.altSpeed = { ...(altDown !== undefined && { download: fromKBps('alt-speed-down', altDown) }), ...(altUp !== undefined && { upload: fromKBps('alt-speed-up', altUp) }) };
  }
  const altOn = optBool(args, 'alt-speed-enabled');
  if (altOn !== undefined) patch.altSpeedEnabled = altOn;
  const ratio = globalShareFrom({ limit: 'seedRatioLimit', enabled: 'seedRatioLimited' }, optNumber(args, 'seedRatioLimit'), optBool(args, 'seedRatioLimited'), c.share.ratio);
  const idle = globalShareFrom({ limit: 'idle-seeding-limit', enabled: 'idle-seeding-limit-enabled' }, optInt(args, 'idle-seeding-limit'), optBool(args, 'idle-seeding-limit-enabled'), c.share.inactiveMinutes);
  if (ratio !== undefined || idle !== undefined) patch.share = { ...(ratio !== undefined && { ratio }), ...(idle !== undefined && { inactiveMinutes: idle }) };
  const queue = queuePatch(args, c.queue);
  if (queue) patch.queue = queue;
  const encryption = optString(args, 'encryption');
  if (encryption !== undefined) {
    const mode = (Object.entries(ENCRYPTION_TO_TR) as [EncryptionMode, string][]).find(([, v]) => v === encryption)?.[0];
    if (mode === undefined) throw new TrRpcError('argument', `encryption must be "required", "preferred" or "tolerated" (got ${JSON.stringify(encryption)})`);
    patch.encryption = mode;
  }
  const dht = optBool(args, 'dht-enabled');
  if (dht !== undefined) patch.dht = dht;
  return patch;
}

/** One of session-stats' stats objects. */
interface StatsObject {
  uploadedBytes: number;
  downloadedBytes: number;
  filesAdded: number;
  sessionCount?: number;
  secondsActive?: number;
}

/**
 * session-stats. Counts and speeds are the fleet's now. `cumulative-stats`
 * sums the lifetime totals of the torrents still in the fleet (a removed
 * torrent's bytes leave with it) and counts those torrents as added; the
 * fleet keeps no count of restarts nor of its time up, so those two are
 * left out. `current-stats` is this process's session: what the workers
 * counted since they started each torrent, and the time since this API
 * started.
 */
export function sessionStats(records: readonly TorrentRecord[], statsOf: (hex: string) => TorrentStatsView | undefined, now: number, startedAt: number): Record<string, unknown> {
  let downloadSpeed = 0;
  let uploadSpeed = 0;
  let active = 0;
  const cumulative: StatsObject = { uploadedBytes: 0, downloadedBytes: 0, filesAdded: records.length };
  const current: StatsObject = { uploadedBytes: 0, downloadedBytes: 0, filesAdded: 0, sessionCount: 1, secondsActive: Math.max(0, Math.floor((now - startedAt) / 1000)) };
  for (const r of records) {
    if (r.desired === 'running') active++;
    cumulative.uploadedBytes += r.totals.uploaded;
    cumulative.downloadedBytes += r.totals.downloaded;
    if (r.addedAt >= startedAt) current.filesAdded++;
    const s = statsOf(r.infoHashHex);
    if (!s) continue;
    // A paused torrent moves nothing, whatever figures of it linger.
    if (r.desired === 'running') {
      downloadSpeed += s.downloadRate;
      uploadSpeed += s.uploadRate;
    }
    current.uploadedBytes += s.uploaded;
    current.downloadedBytes += s.downloaded;
  }
  return {
    activeTorrentCount: active,
    pausedTorrentCount: records.length - active,
    torrentCount: records.length,
    downloadSpeed: Math.round(downloadSpeed),
    uploadSpeed: Math.round(uploadSpeed),
    'cumulative-stats': cumulative,
    'current-stats': current,
  };
}
