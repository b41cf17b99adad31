import { effectiveSpeed, type FleetConfig } from '@seedbox/cluster';
import type { TorrentRecord, TorrentStatsView } from '../../control/backend.js';
import { REFRESH_INTERVAL_MS } from './qbt-preferences.js';

/**
 * transfer/info and sync/maindata's server_state: the fleet's totals in
 * qBittorrent's keys (src/webui/api/transfercontroller.cpp,
 * synccontroller.cpp). Pure.
 */

export interface TransferInfo {
  dl_info_speed: number;
  dl_info_data: number;
  up_info_speed: number;
  up_info_data: number;
  dl_rate_limit: number;
  up_rate_limit: number;
  dht_nodes: number;
  connection_status: 'connected' | 'firewalled' | 'disconnected';
  last_external_address_v4: string;
  last_external_address_v6: string;
}

export interface ServerState extends TransferInfo {
  alltime_dl: number;
  alltime_ul: number;
  global_ratio: string;
  total_peer_connections: number;
  free_space_on_disk: number;
  queueing: boolean;
  use_alt_speed_limits: boolean;
  use_subcategories: boolean;
  refresh_interval: number;
}

export interface TorrentFigures {
  record: Pick<TorrentRecord, 'desired' | 'totals'>;
  stats: TorrentStatsView | undefined;
}

function whole(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}

/** The DHT's routing table as the fleet's members report it: each tracker-client replica (or `serve`) runs a node; the largest table stands for them. */
export function dhtNodesOf(members: readonly { figures: Readonly<Record<string, number | undefined>> }[]): number {
  return members.reduce((n, m) => Math.max(n, whole(m.figures.dhtNodes ?? 0)), 0);
}

export function transferInfo(torrents: TorrentFigures[], config: FleetConfig, dhtNodes = 0): TransferInfo {
  let dlSpeed = 0;
  let upSpeed = 0;
  let dlData = 0;
  let upData = 0;
  let peers = 0;
  for (const { record, stats } of torrents) {
    if (!stats) continue;
    // Session counters of the workers that ran it; rates only of what runs now (a paused torrent's last figures are stale).
    dlData += whole(stats.downloaded);
    upData += whole(stats.uploaded);
    if (record.desired === 'paused') continue;
    dlSpeed += whole(stats.downloadRate);
    upSpeed += whole(stats.uploadRate);
    peers += stats.peers;
  }
  const limits = effectiveSpeed(config);
  return {
    dl_info_speed: dlSpeed,
    dl_info_data: dlData,
    up_info_speed: upSpeed,
    up_info_data: upData,
    dl_rate_limit: limits.download,
    up_rate_limit: limits.upload,
    dht_nodes: dhtNodes,
    // Whether peers can reach the workers from outside is not reported to the fleet; a connected peer is the
    // evidence there is: with one the fleet is connected, without any it is, as far as known, unreachable.
    connection_status: peers > 0 ? 'connected' : 'firewalled',
    // The workers' external addresses are not gathered: unknown, as qBittorrent says before it learns one.
    last_external_address_v4: '',
    last_external_address_v6: '',
  };
}

export function serverState(torrents: TorrentFigures[], config: FleetConfig, freeSpace: number, dhtNodes = 0): ServerState {
  let alltimeDl = 0;
  let alltimeUl = 0;
  let peers = 0;
  for (const { record, stats } of torrents) {
    alltimeDl += whole(record.totals.downloaded);
    alltimeUl += whole(record.totals.uploaded);
    if (stats && record.desired !== 'paused') peers += stats.peers;
  }
  return {
    ...transferInfo(torrents, config, dhtNodes),
    alltime_dl: alltimeDl,
    alltime_ul: alltimeUl,
    global_ratio: alltimeDl > 0 && alltimeUl > 0 ? (alltimeUl / alltimeDl).toFixed(2) : '-',
    total_peer_connections: peers,
    free_space_on_disk: freeSpace,
    queueing: config.queue.enabled,
    use_alt_speed_limits: config.altSpeedEnabled,
    // Categories match by exact name; `a/b` is not a subcategory of `a` here.
    use_subcategories: false,
    refresh_interval: REFRESH_INTERVAL_MS,
  };
}
