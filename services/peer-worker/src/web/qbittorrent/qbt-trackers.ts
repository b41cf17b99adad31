import type { Metainfo } from '@seedbox/protocol';
import type { TrackerStatus } from '../../control/backend.js';

/**
 * A torrent's trackers as qBittorrent 5.1 shows them (torrents/trackers,
 * torrents/info's includeTrackers; TorrentsController::trackersAction),
 * and the torrent-wide figures it draws from them: the swarm's counts
 * (num_complete, num_incomplete), the tracker working now, the seconds to
 * the next announce. Pure: the statuses come from the backend (what the
 * tracker-client last heard, TrackerStatus), the clock as `now`.
 *
 * Status, as qBittorrent's TrackerEntryStatus: 0 disabled (LSD, which the
 * engine has not; DHT and PeX where they are off: see discoveryRows), 1
 * not contacted (no announce to it yet: BEP 12 tries a later tier only
 * when the earlier ones fail), 2 working, 4 not working, with the
 * tracker's own words in `msg` ("unregistered torrent", which
 * qbit_manage tags by; for a tracker asking us to come back later, its
 * words and until when). 3, updating, is never answered: announces last a
 * moment, and their start is not recorded.
 *
 * A tracker's seeds, leeches and downloads are the latest any answer gave,
 * announce or scrape: the tracker-client keeps one set per tracker, the
 * newest winning, as libtorrent does with the scrape_complete,
 * scrape_incomplete and scrape_downloaded that qBittorrent shows. -1
 * while none did, qBittorrent's unknown.
 */

export interface QbtTracker {
  url: string;
  status: number;
  tier: number;
  num_peers: number;
  num_seeds: number;
  num_leeches: number;
  num_downloaded: number;
  msg: string;
}

const DISABLED = 0;
const NOT_CONTACTED = 1;
const WORKING = 2;
const NOT_WORKING = 4;

/**
 * One tracker's line: what it last answered, or "not contacted" with
 * unknown (-1) counts. A failure of any kind is "not working" with its
 * message (a `retry-later` too); none puts the torrent in the `error`
 * state, which in qBittorrent is the files' alone.
 */
export function trackerEntry(url: string, tier: number, s: TrackerStatus | undefined): QbtTracker {
  if (!s) return { url, status: NOT_CONTACTED, tier, num_peers: -1, num_seeds: -1, num_leeches: -1, num_downloaded: -1, msg: '' };
  return {
    url,
    status: s.ok ? WORKING : NOT_WORKING,
    tier,
    // The peers its last answer listed: the tracker-client hands peers to the workers, which do not tell them apart by source.
    num_peers: s.peers ?? -1,
    num_seeds: s.seeders ?? -1,
    num_leeches: s.leechers ?? -1,
    num_downloaded: s.downloaded ?? -1,
    msg: (s.ok ? s.warning : s.error) ?? '',
  };
}

/** The real trackers alone, tier by tier (torrents/info's `includeTrackers`). */
export function metainfoTrackers(tiers: string[][], statuses: readonly TrackerStatus[] = []): QbtTracker[] {
  const byUrl = new Map(statuses.map((s) => [s.url, s]));
  return tiers.flatMap((tier, n) => tier.map((url) => trackerEntry(url, n, byUrl.get(url))));
}

/** Which ways of finding peers besides the trackers are switched on for the whole fleet. */
export interface PeerSources {
  /** The DHT setting in force (the fleet config's, else the process's SEEDBOX_DHT). */
  dht: boolean;
}

/**
 * The three pseudo-trackers qBittorrent lists first, as its
 * getStickyTrackers has them: working (2) when the source is on and the
 * torrent is public, else disabled (0), with "This torrent is private"
 * for a private one. DHT follows the switch; PeX is the engine's for
 * every public torrent; LSD the engine has not. A magnet still resolving
 * is public as far as anyone knows (qBittorrent's isPrivate is false
 * without metadata), and is looked up on the DHT. The counts are 0: the
 * workers do not record which source a peer came from.
 */
export function discoveryRows(isPrivate: boolean, on: PeerSources): QbtTracker[] {
  const msg = isPrivate ? 'This torrent is private' : '';
  const row = (url: string, enabled: boolean): QbtTracker => ({ url, status: enabled && !isPrivate ? WORKING : DISABLED, tier: -1, num_peers: 0, num_seeds: 0, num_leeches: 0, num_downloaded: 0, msg });
  return [row('** [DHT] **', on.dht), row('** [PeX] **', true), row('** [LSD] **', false)];
}

/**
 * The three pseudo-trackers qBittorrent lists first, then the metainfo's
 * trackers by tier (or a magnet's, one per tier, while it resolves).
 */
export function trackersView(m: Pick<Metainfo, 'announce' | 'private'> | undefined, on: PeerSources, trackers: string[] = [], statuses: readonly TrackerStatus[] = []): QbtTracker[] {
  return [...discoveryRows(m?.private === true, on), ...metainfoTrackers(m ? m.announce : trackers.map((url) => [url]), statuses)];
}

/**
 * The swarm's size as the trackers count it (libtorrent's num_complete and
 * num_incomplete): the largest count any tracker gave (in an announce's
 * answer or a scrape), since each knows a part of the swarm; undefined
 * while no tracker said.
 */
export function swarmCounts(statuses: readonly TrackerStatus[]): { complete: number | undefined; incomplete: number | undefined } {
  let complete: number | undefined;
  let incomplete: number | undefined;
  for (const s of statuses) {
    if (s.seeders !== undefined) complete = Math.max(complete ?? 0, s.seeders);
    if (s.leechers !== undefined) incomplete = Math.max(incomplete ?? 0, s.leechers);
  }
  return { complete, incomplete };
}

/** The tracker that answered last of those working now (qBittorrent's current tracker); undefined when none works. */
export function workingTracker(statuses: readonly TrackerStatus[]): string | undefined {
  let best: TrackerStatus | undefined;
  for (const s of statuses) if (s.ok && (!best || s.lastAnnounceAt > best.lastAnnounceAt)) best = s;
  return best?.url;
}

/** Seconds until the next announce (torrents/info's `reannounce`); 0 when none is scheduled or it is due. */
export function secondsToNextAnnounce(statuses: readonly TrackerStatus[], now: number): number {
  let next: number | undefined;
  for (const s of statuses) if (s.nextAnnounceAt !== undefined && s.nextAnnounceAt > now) next = Math.min(next ?? Infinity, s.nextAnnounceAt);
  return next === undefined ? 0 : Math.ceil((next - now) / 1000);
}
