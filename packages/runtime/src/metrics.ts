import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { activityOf, QuietTorrents, type TorrentMetricsMode } from './torrent-series.js';

/**
 * The Prometheus metrics of docs/OPERATIONS-CONTRACT.md, one function per
 * service. Names, types and labels here are the contract: the Helm chart's
 * dashboards and alerts query them, and exportedMetricNames() lets the chart
 * tests check that they only query what exists.
 */

export type ServiceName = 'peer-worker' | 'disk-writer' | 'tracker-client';

/**
 * Buckets for latencies from 0.5 ms (a piece round trip on a quiet local
 * NATS) to 10 s (a disk-writer stalled on a slow volume).
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** How often the event-loop lag monitor samples (see createCommonMetrics). */
export const EVENT_LOOP_MONITOR_MS = 100;

export interface CommonMetrics {
  readonly buildInfo: Gauge<'service' | 'version'>;
  readonly natsConnected: Gauge;
  setNatsConnected(connected: boolean): void;
}

export function createCommonMetrics(registry: Registry, build: { service: ServiceName | string; version: string }): CommonMetrics {
  // The event-loop lag monitor wakes the loop every `precision` ms: at
  // prom-client's 10 ms that is 100 wake-ups a second, about 1% of a core
  // in a process that is otherwise idle (10,000 seeding torrents aim at 5%).
  // A block of the loop delays the next wake-up whatever the period, so
  // 100 ms still shows every stall worth alerting on.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_MONITOR_MS });
  const buildInfo = new Gauge({
    name: 'seedbox_build_info',
    help: 'Always 1; the labels say which service and version this process is',
    labelNames: ['service', 'version'] as const,
    registers: [registry],
  });
  buildInfo.set({ service: build.service, version: build.version }, 1);
  const natsConnected = new Gauge({
    name: 'seedbox_nats_connected',
    help: '1 while connected to NATS',
    registers: [registry],
  });
  natsConnected.set(0);
  return {
    buildInfo,
    natsConnected,
    setNatsConnected: (connected) => natsConnected.set(connected ? 1 : 0),
  };
}

/** One torrent in a peer-worker tick; structurally a subset of the peer-worker's TorrentSnapshot. */
export interface TickTorrent {
  infoHash: string;
  /** Bytes per second over the tick. */
  downloadRate: number;
  uploadRate: number;
  /** Cumulative totals since the torrent was added. */
  downloaded: number;
  uploaded: number;
  peers: number;
  seeds: number;
  left: number;
  piecesVerified: number;
  piecesFailed: number;
  complete: boolean;
}

/** The process's peer connections in a tick; structurally the peer-worker's ConnectionFigures. */
export interface TickConnections {
  /** Incoming connections waiting for their handshake now. */
  handshaking: number;
  /** Incoming connections refused since start, by reason (cumulative, like a torrent's totals). */
  refused: Readonly<Record<string, number>>;
}

/** Structurally the peer-worker's EngineTick. */
export interface TickSnapshot {
  time: number;
  torrents: readonly TickTorrent[];
  /**
   * The torrents whose figures changed since the last tick, and those gone
   * since (EngineTick's): given both, only they are looked at; without,
   * every torrent of `torrents` is.
   */
  changed?: readonly TickTorrent[] | undefined;
  gone?: readonly string[] | undefined;
  connections?: TickConnections | undefined;
}

export interface TorrentStates {
  downloading: number;
  seeding: number;
  paused: number;
}

export interface PeerWorkerMetrics {
  readonly piecesInFlight: Gauge;
  readonly pieceNatsRoundTrip: Histogram;
  /** Pieces sent inline because their writer could not be reached over the direct data path. */
  readonly pieceDataFallbacks: Counter;
  /**
   * Per-torrent series from a tick (its changes, or every torrent; torrents
   * gone or missing lose theirs, and in `active` those quiet for 10 minutes
   * too), and its connection figures.
   */
  observeTick(tick: TickSnapshot): void;
  setTorrentStates(states: TorrentStates): void;
}

export interface PeerWorkerMetricsOptions {
  /** Which torrents have per-torrent series (SEEDBOX_TORRENT_METRICS, torrent-series.ts); `active` unless told. */
  torrents?: TorrentMetricsMode | undefined;
  /** A monotonic clock in ms, for how long a torrent has been quiet; performance.now() unless a test gives its own. */
  now?: (() => number) | undefined;
}

type TotalKey = 'downloaded' | 'uploaded' | 'piecesVerified' | 'piecesFailed';

export function createPeerWorkerMetrics(registry: Registry, options: PeerWorkerMetricsOptions = {}): PeerWorkerMetrics {
  const mode = options.torrents ?? 'active';
  const now = options.now ?? (() => performance.now());
  // The families are there in every mode (the contract's names), with no series in `none`.
  const torrentGauge = (name: string, help: string): Gauge<'info_hash'> =>
    new Gauge({ name, help, labelNames: ['info_hash'] as const, registers: [registry] });
  const torrentCounter = (name: string, help: string): Counter<'info_hash'> =>
    new Counter({ name, help, labelNames: ['info_hash'] as const, registers: [registry] });

  const gauges: [Gauge<'info_hash'>, (t: TickTorrent) => number][] = [
    [torrentGauge('seedbox_torrent_download_bytes_per_second', 'Download rate of block payload over the last tick'), (t) => t.downloadRate],
    [torrentGauge('seedbox_torrent_upload_bytes_per_second', 'Upload rate of block payload over the last tick'), (t) => t.uploadRate],
    [torrentGauge('seedbox_torrent_peers', 'Connected peers'), (t) => t.peers],
    [torrentGauge('seedbox_torrent_seeds', 'Connected peers that have every piece'), (t) => t.seeds],
    [torrentGauge('seedbox_torrent_left_bytes', 'Bytes still to download'), (t) => t.left],
  ];
  const counters: [Counter<'info_hash'>, TotalKey][] = [
    [torrentCounter('seedbox_torrent_downloaded_bytes_total', 'Block payload bytes downloaded'), 'downloaded'],
    [torrentCounter('seedbox_torrent_uploaded_bytes_total', 'Block payload bytes uploaded'), 'uploaded'],
    [torrentCounter('seedbox_torrent_pieces_verified_total', 'Pieces whose SHA-1 matched'), 'piecesVerified'],
    [torrentCounter('seedbox_torrent_pieces_failed_total', 'Pieces whose SHA-1 did not match'), 'piecesFailed'],
  ];
  const torrents = new Gauge({
    name: 'seedbox_torrents',
    help: 'Torrents on this worker by state',
    labelNames: ['state'] as const,
    registers: [registry],
  });
  const piecesInFlight = new Gauge({
    name: 'seedbox_pieces_in_flight',
    help: 'Pieces sent to disk-writers and not yet answered',
    registers: [registry],
  });
  const pieceDataFallbacks = new Counter({
    name: 'seedbox_piece_data_fallbacks_total',
    help: 'Pieces sent inline through NATS because the writer that took them could not be reached over the direct data path',
    registers: [registry],
  });
  const connectionsRefused = new Counter({
    name: 'seedbox_connections_refused_total',
    help: 'Incoming peer connections closed before their handshake was taken, by reason (caps, deadline, bad or unknown handshake)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const connectionsHandshaking = new Gauge({
    name: 'seedbox_connections_handshaking',
    help: 'Incoming peer connections waiting for their handshake',
    registers: [registry],
  });
  connectionsHandshaking.set(0);
  const pieceNatsRoundTrip = new Histogram({
    name: 'seedbox_piece_nats_round_trip_seconds',
    help: 'Time from publishing a piece to NATS to the disk-writer answer',
    buckets: [...LATENCY_BUCKETS_SECONDS],
    registers: [registry],
  });

  const setTorrentStates = (s: TorrentStates): void => {
    torrents.set({ state: 'downloading' }, s.downloading);
    torrents.set({ state: 'seeding' }, s.seeding);
    torrents.set({ state: 'paused' }, s.paused);
  };
  setTorrentStates({ downloading: 0, seeding: 0, paused: 0 });
  piecesInFlight.set(0);

  /**
   * What each torrent's series were last set from (the torrents with
   * series: in `active`, not every torrent); counters advance by the
   * difference of the totals. An idle torrent hands the same snapshot object
   * tick after tick (the engine reuses it while nothing in it changed), and
   * its series are then left as they are: with thousands of idle torrents,
   * setting every series every second was the largest part of an idle
   * worker's CPU.
   */
  const last = new Map<string, { snap: TickTorrent; totals: Record<TotalKey, number>; tick: number }>();
  let tickNo = 0;
  /** In `active`, the torrents with series and nothing going on, and since when. */
  const quiet = mode === 'active' ? new QuietTorrents() : undefined;
  /** The refusals by reason reported last tick. */
  const lastRefused = new Map<string, number>();

  const observeConnections = (c: TickConnections): void => {
    connectionsHandshaking.set(finiteOr0(c.handshaking));
    for (const [reason, n] of Object.entries(c.refused)) {
      const total = Math.max(0, finiteOr0(n));
      const before = lastRefused.get(reason);
      // inc by 0 creates the series: every reason the engine reports shows from its first tick.
      connectionsRefused.inc({ reason }, before === undefined || total < before ? total : total - before);
      lastRefused.set(reason, total);
    }
  };

  /** The torrent's series, from figures not seen before; whether it has series now. */
  const observe = (t: TickTorrent, tick: number, time: number): boolean => {
    const prev = last.get(t.infoHash);
    if (prev?.snap === t) {
      prev.tick = tick;
      return true;
    }
    if (quiet) {
      const activity = activityOf(t, prev?.totals);
      if (activity === 'ongoing') quiet.forget(t.infoHash);
      else if (activity === 'moved') quiet.activeAt(t.infoHash, time);
      // Nothing going on and no series: none made (an idle seed at start, one whose series went).
      else if (prev === undefined) return false;
      else quiet.quiet(t.infoHash, time);
    }
    const labels = { info_hash: t.infoHash };
    for (const [gauge, read] of gauges) gauge.set(labels, finiteOr0(read(t)));
    const totals = {} as Record<TotalKey, number>;
    for (const [counter, key] of counters) {
      const total = Math.max(0, finiteOr0(t[key]));
      totals[key] = total;
      const before = prev?.totals[key];
      // A total that went down means the torrent was removed and added
      // again between ticks: its count starts from zero again. A series
      // made anew (a new torrent, or one active again after its series
      // went) starts from the whole total, so it goes on from where it
      // stopped and rate() sees no reset.
      const delta = before === undefined || total < before ? total : total - before;
      // inc by 0 still creates the series, so a new torrent shows at once.
      counter.inc(labels, delta);
    }
    last.set(t.infoHash, { snap: t, totals, tick });
    return true;
  };

  const drop = (infoHash: string): void => {
    quiet?.forget(infoHash);
    if (!last.delete(infoHash)) return;
    const labels = { info_hash: infoHash };
    for (const [gauge] of gauges) gauge.remove(labels);
    for (const [counter] of counters) counter.remove(labels);
  };

  const observeTorrents = (tick: TickSnapshot): void => {
    const n = ++tickNo;
    const time = quiet ? now() : 0;
    if (tick.changed && tick.gone) {
      // The changes alone: a tick of 10,000 idle torrents looks at none.
      for (const infoHash of tick.gone) drop(infoHash);
      for (const t of tick.changed) observe(t, n, time);
    } else {
      let kept = 0;
      for (const t of tick.torrents) if (observe(t, n, time)) kept++;
      // Torrents gone since the last tick lose their series.
      if (last.size > kept) for (const [infoHash, l] of last) if (l.tick !== n) drop(infoHash);
    }
    // Dormant torrents are not in the tick: their quiet time is judged here.
    if (quiet) for (const infoHash of quiet.expired(time)) drop(infoHash);
  };

  const observeTick = (tick: TickSnapshot): void => {
    if (tick.connections) observeConnections(tick.connections);
    if (mode !== 'none') observeTorrents(tick);
  };

  return { piecesInFlight, pieceNatsRoundTrip, pieceDataFallbacks, observeTick, setTorrentStates };
}

function finiteOr0(n: number): number {
  return Number.isFinite(n) ? n : 0;
}

export type DiskPieceResult = 'written' | 'hash_mismatch' | 'io_error' | 'unknown_torrent';
export const DISK_PIECE_RESULTS: readonly DiskPieceResult[] = ['written', 'hash_mismatch', 'io_error', 'unknown_torrent'];

export interface DiskWriterMetrics {
  readonly diskWrite: Histogram;
  readonly writtenBytes: Counter;
  readonly pieces: Counter<'result'>;
  /** Times the writer left the queue group after its disk failed. */
  readonly stepBacks: Counter;
  /** 1 while the writer takes offers, 0 while it has stepped back. */
  readonly takingPieces: Gauge;
  /** Connections of the direct data path refused, by rule (piece-data-listener.ts). */
  readonly pieceDataRefused: Counter<'reason'>;
  /** Piece bytes that came over the direct data path (not through NATS). */
  readonly pieceDataBytes: Counter;
  countPiece(result: DiskPieceResult): void;
}

export function createDiskWriterMetrics(registry: Registry): DiskWriterMetrics {
  const diskWrite = new Histogram({
    name: 'seedbox_disk_write_seconds',
    help: 'Time to verify and write one piece',
    buckets: [...LATENCY_BUCKETS_SECONDS],
    registers: [registry],
  });
  const writtenBytes = new Counter({
    name: 'seedbox_disk_written_bytes_total',
    help: 'Piece bytes written to the data volume',
    registers: [registry],
  });
  const pieces = new Counter({
    name: 'seedbox_disk_pieces_total',
    help: 'Pieces handled, by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  // Every result exists from the start, so rate() and alerts see 0, not absence.
  for (const result of DISK_PIECE_RESULTS) pieces.inc({ result }, 0);
  const stepBacks = new Counter({
    name: 'seedbox_disk_step_backs_total',
    help: 'Times this writer left the disk-writers queue group because its disk failed (full, read-only, I/O error)',
    registers: [registry],
  });
  const takingPieces = new Gauge({
    name: 'seedbox_disk_taking_pieces',
    help: '1 while this writer takes pieces from the queue group, 0 while it has stepped back after a disk failure',
    registers: [registry],
  });
  takingPieces.set(1);
  const pieceDataRefused = new Counter({
    name: 'seedbox_piece_data_refused_total',
    help: 'Connections of the direct data path closed for breaking a rule (an unknown write id, a wrong length, not the protocol, stalled), by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const pieceDataBytes = new Counter({
    name: 'seedbox_piece_data_received_bytes_total',
    help: 'Piece bytes received over the direct data path (SEEDBOX_PIECE_DATA=direct), not through NATS',
    registers: [registry],
  });
  return { diskWrite, writtenBytes, pieces, stepBacks, takingPieces, pieceDataRefused, pieceDataBytes, countPiece: (result) => pieces.inc({ result }) };
}

export interface TrackerClientMetrics {
  readonly announces: Counter<'result'>;
  readonly peersFound: Counter;
  readonly announcers: Gauge;
  countAnnounce(result: 'ok' | 'error'): void;
}

export function createTrackerClientMetrics(registry: Registry): TrackerClientMetrics {
  const announces = new Counter({
    name: 'seedbox_tracker_announces_total',
    help: 'Tracker announces, by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  for (const result of ['ok', 'error'] as const) announces.inc({ result }, 0);
  const peersFound = new Counter({
    name: 'seedbox_tracker_peers_found_total',
    help: 'Peers returned by trackers',
    registers: [registry],
  });
  const announcers = new Gauge({
    name: 'seedbox_tracker_announcers',
    help: 'Torrent announcers running (one per torrent and tracker)',
    registers: [registry],
  });
  announcers.set(0);
  return { announces, peersFound, announcers, countAnnounce: (result) => announces.inc({ result }) };
}

/**
 * Every metric name a service exports, with the `_bucket`, `_sum` and
 * `_count` series of histograms and summaries as well as their family name,
 * sorted. Built on a fresh registry so the answer is the code's, not a
 * running process's.
 */
export function exportedMetricNames(service: ServiceName): string[] {
  const registry = new Registry();
  createCommonMetrics(registry, { service, version: '0.0.0' });
  if (service === 'peer-worker') createPeerWorkerMetrics(registry);
  else if (service === 'disk-writer') createDiskWriterMetrics(registry);
  else createTrackerClientMetrics(registry);
  const names = new Set<string>();
  for (const metric of registry.getMetricsAsArray()) {
    names.add(metric.name);
    if (metric instanceof Histogram) names.add(`${metric.name}_bucket`);
    if (metric instanceof Histogram || metric instanceof Summary) {
      names.add(`${metric.name}_sum`);
      names.add(`${metric.name}_count`);
    }
  }
  return [...names].sort();
}
