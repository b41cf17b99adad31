/**
 * The qBittorrent WebAPI v2 shapes the UI reads, as qBittorrent documents
 * them ("WebUI API (qBittorrent 4.1)" and its 5.x successors), limited to
 * the keys the UI uses. The server may send more; it never has to send
 * fewer for the UI to work (a missing number reads as unknown).
 *
 * Pure types: no DOM, so the unit tests (checked by the root tsconfig)
 * can import them.
 */

/** Torrent states; 4.x's pausedDL/pausedUP are 5.x's stoppedDL/stoppedUP, and both are understood. */
export type TorrentState =
  | 'error'
  | 'missingFiles'
  | 'uploading'
  | 'stoppedUP'
  | 'pausedUP'
  | 'queuedUP'
  | 'stalledUP'
  | 'checkingUP'
  | 'forcedUP'
  | 'allocating'
  | 'downloading'
  | 'metaDL'
  | 'forcedMetaDL'
  | 'stoppedDL'
  | 'pausedDL'
  | 'queuedDL'
  | 'stalledDL'
  | 'checkingDL'
  | 'forcedDL'
  | 'checkingResumeData'
  | 'moving'
  | 'unknown';

/** A torrent of torrents/info and sync/maindata (the hash is the map's key there; the merge puts it back in). */
export interface Torrent {
  hash: string;
  name: string;
  size: number;
  total_size: number;
  progress: number;
  dlspeed: number;
  upspeed: number;
  num_seeds: number;
  num_complete: number;
  num_leechs: number;
  num_incomplete: number;
  state: TorrentState;
  eta: number;
  ratio: number;
  category: string;
  /** Comma-separated, as qBittorrent sends them: "a, b". */
  tags: string;
  added_on: number;
  completion_on: number;
  dl_limit: number;
  up_limit: number;
  save_path: string;
  seq_dl: boolean;
  downloaded: number;
  uploaded: number;
  amount_left: number;
  priority: number;
  has_metadata?: boolean;
  infohash_v1?: string;
  infohash_v2?: string;
  magnet_uri?: string;
  [key: string]: unknown;
}

export interface Category {
  name: string;
  savePath: string;
}

/** sync/maindata's server_state (transfer/info plus a few keys). */
export interface ServerState {
  dl_info_speed: number;
  dl_info_data: number;
  up_info_speed: number;
  up_info_data: number;
  dl_rate_limit: number;
  up_rate_limit: number;
  connection_status: string;
  use_alt_speed_limits: boolean;
  free_space_on_disk: number;
  refresh_interval: number;
  queueing: boolean;
  [key: string]: unknown;
}

/** One answer of sync/maindata?rid=N: everything (full_update) or what changed since rid N. */
export interface MaindataResponse {
  rid: number;
  full_update?: boolean;
  /** New torrents in full; changed ones with only their changed keys. */
  torrents?: Record<string, Partial<Torrent>>;
  torrents_removed?: string[];
  categories?: Record<string, Partial<Category>>;
  categories_removed?: string[];
  tags?: string[];
  tags_removed?: string[];
  server_state?: Partial<ServerState>;
}

/** torrents/properties. */
export interface Properties {
  save_path: string;
  creation_date: number;
  piece_size: number;
  comment: string;
  total_wasted: number;
  total_uploaded: number;
  total_downloaded: number;
  up_limit: number;
  dl_limit: number;
  time_elapsed: number;
  seeding_time: number;
  nb_connections: number;
  share_ratio: number;
  addition_date: number;
  completion_date: number;
  created_by: string;
  dl_speed_avg: number;
  up_speed_avg: number;
  eta: number;
  pieces_have: number;
  pieces_num: number;
  total_size: number;
  seeds: number;
  peers: number;
  infohash_v1?: string;
  infohash_v2?: string;
  hash?: string;
  is_private?: boolean;
  [key: string]: unknown;
}

/** torrents/files. Priority: 0 do not download, 1 normal, 6 high, 7 maximum. */
export interface TorrentFile {
  index: number;
  name: string;
  size: number;
  progress: number;
  priority: number;
  piece_range?: [number, number];
}

/** torrents/trackers. Status: 0 disabled, 1 not contacted, 2 working, 3 updating, 4 not working. */
export interface Tracker {
  url: string;
  status: number;
  tier: number;
  num_peers: number;
  num_seeds: number;
  num_leeches: number;
  num_downloaded: number;
  msg: string;
}

/** app/preferences: the keys the settings page edits. */
export interface Preferences {
  dl_limit: number;
  up_limit: number;
  alt_dl_limit: number;
  alt_up_limit: number;
  queueing_enabled: boolean;
  max_active_downloads: number;
  max_active_uploads: number;
  max_active_torrents: number;
  dont_count_slow_torrents: boolean;
  slow_torrent_dl_rate_threshold: number;
  slow_torrent_ul_rate_threshold: number;
  slow_torrent_inactive_timer: number;
  max_ratio_enabled: boolean;
  max_ratio: number;
  max_seeding_time_enabled: boolean;
  max_seeding_time: number;
  max_inactive_seeding_time_enabled: boolean;
  max_inactive_seeding_time: number;
  /** 0 stop, 1 remove, 2 super seeding, 3 remove with content. */
  max_ratio_act: number;
  save_path: string;
  dht?: boolean;
  pex?: boolean;
  /** 0 prefer, 1 require, 2 disabled. */
  encryption?: number;
  [key: string]: unknown;
}

/** qBittorrent's "infinite" ETA: 100 days in seconds. */
export const MAX_ETA = 8_640_000;

/** One connected peer of sync/torrentPeers (keyed there by "ip:port"). */
export interface Peer {
  ip: string;
  port: number;
  /** The client as it names itself, else as its peer id says. */
  client: string;
  /** qBittorrent's flag letters, space-separated, and their sentences, one a line. */
  flags: string;
  flags_desc: string;
  progress: number;
  dl_speed: number;
  up_speed: number;
  downloaded: number;
  uploaded: number;
  connection?: string;
  [key: string]: unknown;
}

/** One answer of sync/torrentPeers?hash=H&rid=N: every peer (full_update) or what changed since rid N. */
export interface TorrentPeersResponse {
  rid: number;
  full_update?: boolean;
  peers?: Record<string, Partial<Peer>>;
  peers_removed?: string[];
}

/** A service process of the fleet, as GET /api/seedbox/v1/fleet lists it. */
export interface FleetMember {
  kind: string;
  instance: string;
  version: string;
  /** Heard from in the last 10 s, or not (or it said it was leaving). */
  status: 'live' | 'lost';
  left: boolean;
  /** Its readiness: true, or why not. */
  ready: true | string;
  startedAt: number;
  lastSeen: number;
  uptimeSeconds: number;
  /** Its own figures by name (see fleet-data.ts for which kind sends which). */
  figures: Record<string, number>;
}

/** GET /api/seedbox/v1/fleet. */
export interface FleetAnswer {
  /** The server's clock, Unix ms. */
  now: number;
  members: FleetMember[];
  /** Unix seconds, and the fleet's total bytes per second each way. */
  history: { t: number[]; down: number[]; up: number[] };
}
