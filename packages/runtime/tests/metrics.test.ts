import { describe, expect, it, vi } from 'vitest';
import { Gauge, Registry } from 'prom-client';
import {
  EVENT_LOOP_MONITOR_MS,
  LATENCY_BUCKETS_SECONDS,
  createCommonMetrics,
  createDiskWriterMetrics,
  createPeerWorkerMetrics,
  createTrackerClientMetrics,
  exportedMetricNames,
  type TickTorrent,
} from '../src/metrics.js';
import { QuietTorrents, TORRENT_SERIES_CHECK_MS, TORRENT_SERIES_LINGER_MS } from '../src/torrent-series.js';

interface Family {
  name: string;
  type: string;
  values: { value: number; labels: Record<string, string | number> }[];
}

async function families(registry: Registry): Promise<Map<string, Family>> {
  const json = (await registry.getMetricsAsJSON()) as unknown as Family[];
  return new Map(json.map((f) => [f.name, f]));
}

async function family(registry: Registry, name: string): Promise<Family> {
  const f = (await families(registry)).get(name);
  if (f === undefined) throw new Error(`no metric ${name}`);
  return f;
}

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const f = await family(registry, name);
  return f.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l) && Object.keys(v.labels).length === Object.keys(labels).length)?.value;
}

/** The contract's tables (docs/OPERATIONS-CONTRACT.md), written out again so a rename fails here. */
const CONTRACT: Record<string, [string, string, string[]][]> = {
  common: [
    ['seedbox_build_info', 'gauge', ['service', 'version']],
    ['seedbox_nats_connected', 'gauge', []],
  ],
  'peer-worker': [
    ['seedbox_torrent_download_bytes_per_second', 'gauge', ['info_hash']],
    ['seedbox_torrent_upload_bytes_per_second', 'gauge', ['info_hash']],
    ['seedbox_torrent_downloaded_bytes_total', 'counter', ['info_hash']],
    ['seedbox_torrent_uploaded_bytes_total', 'counter', ['info_hash']],
    ['seedbox_torrent_peers', 'gauge', ['info_hash']],
    ['seedbox_torrent_seeds', 'gauge', ['info_hash']],
    ['seedbox_torrent_left_bytes', 'gauge', ['info_hash']],
    ['seedbox_torrent_pieces_verified_total', 'counter', ['info_hash']],
    ['seedbox_torrent_pieces_failed_total', 'counter', ['info_hash']],
    ['seedbox_torrents', 'gauge', ['state']],
    ['seedbox_pieces_in_flight', 'gauge', []],
    ['seedbox_piece_data_fallbacks_total', 'counter', []],
    ['seedbox_piece_nats_round_trip_seconds', 'histogram', []],
    ['seedbox_connections_refused_total', 'counter', ['reason']],
    ['seedbox_connections_handshaking', 'gauge', []],
  ],
  'disk-writer': [
    ['seedbox_disk_write_seconds', 'histogram', []],
    ['seedbox_disk_written_bytes_total', 'counter', []],
    ['seedbox_disk_pieces_total', 'counter', ['result']],
    ['seedbox_disk_step_backs_total', 'counter', []],
    ['seedbox_disk_taking_pieces', 'gauge', []],
    ['seedbox_piece_data_refused_total', 'counter', ['reason']],
    ['seedbox_piece_data_received_bytes_total', 'counter', []],
  ],
  'tracker-client': [
    ['seedbox_tracker_announces_total', 'counter', ['result']],
    ['seedbox_tracker_peers_found_total', 'counter', []],
    ['seedbox_tracker_announcers', 'gauge', []],
  ],
};

function build(service: 'peer-worker' | 'disk-writer' | 'tracker-client'): Registry {
  const registry = new Registry();
  createCommonMetrics(registry, { service, version: '1.2.3' });
  if (service === 'peer-worker') createPeerWorkerMetrics(registry);
  else if (service === 'disk-writer') createDiskWriterMetrics(registry);
  else createTrackerClientMetrics(registry);
  return registry;
}

describe('the contract metrics', () => {
  for (const service of ['peer-worker', 'disk-writer', 'tracker-client'] as const) {
    it(`${service} registers exactly the contract's seedbox_ metrics, types and labels`, async () => {
      const registry = build(service);
      const expected = [...CONTRACT.common!, ...CONTRACT[service]!];
      const seedbox = [...(await families(registry)).values()].filter((f) => f.name.startsWith('seedbox_'));
      expect(seedbox.map((f) => f.name).sort()).toEqual(expected.map(([n]) => n).sort());
      for (const [name, type, labels] of expected) {
        const metric = registry.getSingleMetric(name) as unknown as { type: string; labelNames: string[] };
        expect(metric.type, name).toBe(type);
        expect([...metric.labelNames].sort(), name).toEqual([...labels].sort());
      }
    });
  }

  it('common metrics: build info is 1, NATS starts disconnected, default metrics are there', async () => {
    const registry = new Registry();
    const common = createCommonMetrics(registry, { service: 'disk-writer', version: '1.2.3' });
    expect(await value(registry, 'seedbox_build_info', { service: 'disk-writer', version: '1.2.3' })).toBe(1);
    expect(await value(registry, 'seedbox_nats_connected')).toBe(0);
    common.setNatsConnected(true);
    expect(await value(registry, 'seedbox_nats_connected')).toBe(1);
    const text = await registry.metrics();
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });

  it('histograms have buckets from 0.5 ms to 10 s', async () => {
    expect(LATENCY_BUCKETS_SECONDS[0]).toBe(0.0005);
    expect(LATENCY_BUCKETS_SECONDS.at(-1)).toBe(10);
    const pw = new Registry();
    const m = createPeerWorkerMetrics(pw);
    m.pieceNatsRoundTrip.observe(0.0007);
    const text = await pw.metrics();
    expect(text).toContain('seedbox_piece_nats_round_trip_seconds_bucket{le="0.0005"} 0');
    expect(text).toContain('seedbox_piece_nats_round_trip_seconds_bucket{le="0.001"} 1');
    expect(text).toContain('seedbox_piece_nats_round_trip_seconds_bucket{le="10"} 1');
    const dw = new Registry();
    createDiskWriterMetrics(dw).diskWrite.observe(3);
    expect(await dw.metrics()).toContain('seedbox_disk_write_seconds_bucket{le="5"} 1');
  });

  it('label-valued counters exist at zero from the start', async () => {
    const dw = new Registry();
    const d = createDiskWriterMetrics(dw);
    for (const result of ['written', 'hash_mismatch', 'io_error', 'unknown_torrent']) {
      expect(await value(dw, 'seedbox_disk_pieces_total', { result })).toBe(0);
    }
    d.countPiece('hash_mismatch');
    expect(await value(dw, 'seedbox_disk_pieces_total', { result: 'hash_mismatch' })).toBe(1);
    // A writer takes pieces from the start; it has stepped back no time yet.
    expect(await value(dw, 'seedbox_disk_taking_pieces', {})).toBe(1);
    expect(await value(dw, 'seedbox_disk_step_backs_total', {})).toBe(0);

    const tc = new Registry();
    const t = createTrackerClientMetrics(tc);
    t.countAnnounce('error');
    expect(await value(tc, 'seedbox_tracker_announces_total', { result: 'ok' })).toBe(0);
    expect(await value(tc, 'seedbox_tracker_announces_total', { result: 'error' })).toBe(1);
  });
});

function torrent(infoHash: string, over: Partial<TickTorrent> = {}): TickTorrent {
  return {
    infoHash,
    downloadRate: 0,
    uploadRate: 0,
    downloaded: 0,
    uploaded: 0,
    peers: 0,
    seeds: 0,
    left: 1000,
    piecesVerified: 0,
    piecesFailed: 0,
    complete: false,
    ...over,
  };
}

describe('peer-worker observeTick', () => {
  const A = 'a'.repeat(40);
  const B = 'b'.repeat(40);

  it('sets the gauges and advances the counters by the delta of the cumulative totals', async () => {
    const registry = new Registry();
    const m = createPeerWorkerMetrics(registry);
    m.observeTick({ time: 1, torrents: [torrent(A, { downloadRate: 500, uploadRate: 20, downloaded: 1000, uploaded: 10, peers: 4, seeds: 2, left: 9000, piecesVerified: 1 })] });
    m.observeTick({ time: 2, torrents: [torrent(A, { downloadRate: 700, downloaded: 1700, uploaded: 30, peers: 5, seeds: 1, left: 8300, piecesVerified: 2, piecesFailed: 1 })] });
    const l = { info_hash: A };
    expect(await value(registry, 'seedbox_torrent_download_bytes_per_second', l)).toBe(700);
    expect(await value(registry, 'seedbox_torrent_upload_bytes_per_second', l)).toBe(0);
    expect(await value(registry, 'seedbox_torrent_peers', l)).toBe(5);
    expect(await value(registry, 'seedbox_torrent_seeds', l)).toBe(1);
    expect(await value(registry, 'seedbox_torrent_left_bytes', l)).toBe(8300);
    // Counters equal the latest totals, not the sum of the totals seen.
    expect(await value(registry, 'seedbox_torrent_downloaded_bytes_total', l)).toBe(1700);
    expect(await value(registry, 'seedbox_torrent_uploaded_bytes_total', l)).toBe(30);
    expect(await value(registry, 'seedbox_torrent_pieces_verified_total', l)).toBe(2);
    expect(await value(registry, 'seedbox_torrent_pieces_failed_total', l)).toBe(1);
  });

  it('shows a new torrent at once, even with zero totals', async () => {
    const registry = new Registry();
    createPeerWorkerMetrics(registry).observeTick({ time: 1, torrents: [torrent(A)] });
    expect(await value(registry, 'seedbox_torrent_downloaded_bytes_total', { info_hash: A })).toBe(0);
  });

  it('counts from zero again when a total goes down (torrent re-added)', async () => {
    const registry = new Registry();
    const m = createPeerWorkerMetrics(registry);
    m.observeTick({ time: 1, torrents: [torrent(A, { downloaded: 5000 })] });
    m.observeTick({ time: 2, torrents: [torrent(A, { downloaded: 300 })] });
    expect(await value(registry, 'seedbox_torrent_downloaded_bytes_total', { info_hash: A })).toBe(5300);
    m.observeTick({ time: 3, torrents: [torrent(A, { downloaded: 400 })] });
    expect(await value(registry, 'seedbox_torrent_downloaded_bytes_total', { info_hash: A })).toBe(5400);
  });

  it('removes the series of a torrent missing from the tick', async () => {
    const registry = new Registry();
    const m = createPeerWorkerMetrics(registry);
    m.observeTick({ time: 1, torrents: [torrent(A, { downloaded: 10 }), torrent(B, { downloaded: 20 })] });
    m.observeTick({ time: 2, torrents: [torrent(B, { downloaded: 25 })] });
    const text = await registry.metrics();
    expect(text).not.toContain(A);
    expect(await value(registry, 'seedbox_torrent_downloaded_bytes_total', { info_hash: B })).toBe(25);
    // Added back later, it starts a fresh series from its reported total.
    m.observeTick({ time: 3, torrents: [torrent(A, { downloaded: 7 }), torrent(B, { downloaded: 25 })] });
    expect(await value(registry, 'seedbox_torrent_downloaded_bytes_total', { info_hash: A })).toBe(7);
    m.observeTick({ time: 4, torrents: [] });
    expect(await registry.metrics()).not.toContain('info_hash=');
  });

  it('leaves the series of a torrent whose snapshot is the same object as last tick (idle) untouched, and drops a removed one still', async () => {
    const registry = new Registry();
    // `all`: idle seeds have no series in the default mode.
    const m = createPeerWorkerMetrics(registry, { torrents: 'all' });
    const idle = Array.from({ length: 1000 }, (_, i) => torrent(i.toString(16).padStart(40, '0'), { downloaded: 5, left: 0 }));
    m.observeTick({ time: 1, torrents: idle });
    const sets = vi.spyOn(Gauge.prototype, 'set');
    try {
      const moving = torrent(A, { downloadRate: 10 });
      m.observeTick({ time: 2, torrents: [...idle, moving] });
      m.observeTick({ time: 3, torrents: [...idle, torrent(A, { downloadRate: 20 })] });
      // Only the torrent with new figures had its gauges set: 5 of them, twice.
      expect(sets.mock.calls.filter((c) => typeof c[0] === 'object')).toHaveLength(10);
    } finally {
      sets.mockRestore();
    }
    expect(await value(registry, 'seedbox_torrent_download_bytes_per_second', { info_hash: A })).toBe(20);
    expect(await value(registry, 'seedbox_torrent_downloaded_bytes_total', { info_hash: idle[3]!.infoHash })).toBe(5);
    m.observeTick({ time: 4, torrents: idle.slice(1) });
    const text = await registry.metrics();
    expect(text).not.toContain(idle[0]!.infoHash);
    expect(text).not.toContain(A);
  });

  it("given the tick's changes, looks at nothing else: 1,000 idle torrents cost no series update, a changed one its own, a gone one loses its series", async () => {
    const registry = new Registry();
    const m = createPeerWorkerMetrics(registry, { torrents: 'all' });
    const idle = Array.from({ length: 1000 }, (_, i) => torrent(i.toString(16).padStart(40, '0'), { downloaded: 5, left: 0 }));
    m.observeTick({ time: 1, torrents: idle, changed: idle, gone: [] });
    const sets = vi.spyOn(Gauge.prototype, 'set');
    const moving = torrent(A, { downloadRate: 10, downloaded: 100 });
    try {
      m.observeTick({ time: 2, torrents: idle, changed: [], gone: [] });
      expect(sets.mock.calls.filter((c) => typeof c[0] === 'object')).toHaveLength(0);
      m.observeTick({ time: 3, torrents: [...idle, moving], changed: [moving], gone: [] });
      expect(sets.mock.calls.filter((c) => typeof c[0] === 'object')).toHaveLength(5);
    } finally {
      sets.mockRestore();
    }
    m.observeTick({ time: 4, torrents: [...idle.slice(1), moving], changed: [], gone: [idle[0]!.infoHash] });
    const text = await registry.metrics();
    expect(text).not.toContain(idle[0]!.infoHash);
    expect(await value(registry, 'seedbox_torrent_downloaded_bytes_total', { info_hash: A })).toBe(100);
    expect(await value(registry, 'seedbox_torrent_downloaded_bytes_total', { info_hash: idle[1]!.infoHash })).toBe(5);
  });

  it('ignores non-finite values instead of throwing', async () => {
    const registry = new Registry();
    const m = createPeerWorkerMetrics(registry);
    expect(() => m.observeTick({ time: 1, torrents: [torrent(A, { downloadRate: Number.NaN, downloaded: Number.POSITIVE_INFINITY })] })).not.toThrow();
    expect(await value(registry, 'seedbox_torrent_download_bytes_per_second', { info_hash: A })).toBe(0);
  });

  it('counts refused connections by reason from the cumulative figures, and sets the handshaking gauge', async () => {
    const registry = new Registry();
    const m = createPeerWorkerMetrics(registry);
    expect(await value(registry, 'seedbox_connections_handshaking')).toBe(0);
    // A tick without connection figures (an older caller) changes nothing.
    m.observeTick({ time: 0, torrents: [] });
    expect((await family(registry, 'seedbox_connections_refused_total')).values).toEqual([]);
    m.observeTick({ time: 1, torrents: [], connections: { handshaking: 64, refused: { 'too-many-handshaking': 300, 'handshake-timeout': 0 } } });
    // Every reason reported shows from the first tick, a 0 included, so rate() sees 0 rather than nothing.
    expect(await value(registry, 'seedbox_connections_refused_total', { reason: 'handshake-timeout' })).toBe(0);
    expect(await value(registry, 'seedbox_connections_refused_total', { reason: 'too-many-handshaking' })).toBe(300);
    expect(await value(registry, 'seedbox_connections_handshaking')).toBe(64);
    m.observeTick({ time: 2, torrents: [], connections: { handshaking: 3, refused: { 'too-many-handshaking': 450, 'handshake-timeout': 64 } } });
    expect(await value(registry, 'seedbox_connections_refused_total', { reason: 'too-many-handshaking' })).toBe(450);
    expect(await value(registry, 'seedbox_connections_refused_total', { reason: 'handshake-timeout' })).toBe(64);
    expect(await value(registry, 'seedbox_connections_handshaking')).toBe(3);
    // Figures that went down come from a new listener: counted from zero again, never backwards.
    m.observeTick({ time: 3, torrents: [], connections: { handshaking: 0, refused: { 'too-many-handshaking': 10, 'handshake-timeout': 64 } } });
    expect(await value(registry, 'seedbox_connections_refused_total', { reason: 'too-many-handshaking' })).toBe(460);
  });

  it('sets the torrents-by-state gauge', async () => {
    const registry = new Registry();
    const m = createPeerWorkerMetrics(registry);
    expect(await value(registry, 'seedbox_torrents', { state: 'seeding' })).toBe(0);
    m.setTorrentStates({ downloading: 2, seeding: 5, paused: 1 });
    expect(await value(registry, 'seedbox_torrents', { state: 'downloading' })).toBe(2);
    expect(await value(registry, 'seedbox_torrents', { state: 'seeding' })).toBe(5);
    expect(await value(registry, 'seedbox_torrents', { state: 'paused' })).toBe(1);
  });
});

describe('per-torrent series by SEEDBOX_TORRENT_METRICS', () => {
  const SEED = 'c'.repeat(40);
  const LEECH = 'd'.repeat(40);
  const MIN = 60_000;
  const seriesOf = async (registry: Registry): Promise<Set<string>> => {
    const hashes = new Set<string>();
    for (const f of (await families(registry)).values()) for (const v of f.values) if (typeof v.labels.info_hash === 'string') hashes.add(v.labels.info_hash);
    return hashes;
  };
  /** A peer-worker's metrics on a clock the test moves, fed as the engine feeds them: its changes only. */
  const setUp = (torrents?: 'active' | 'all' | 'none') => {
    const registry = new Registry();
    let clock = 1_000;
    const m = createPeerWorkerMetrics(registry, { torrents, now: () => clock });
    let time = 0;
    const tick = (changed: TickTorrent[] = [], gone: string[] = []) => m.observeTick({ time: ++time, torrents: [], changed, gone });
    /** Ticks once a second over `ms`, with nothing changed. */
    const idle = (ms: number) => {
      for (let t = 0; t < ms; t += 1000) {
        clock += 1000;
        tick();
      }
    };
    return { registry, m, tick, idle, advance: (ms: number) => (clock += ms) };
  };

  it('active (the default): a seed loses its series 10 minutes after its last peer, unsent in between; an incomplete torrent keeps its', async () => {
    const { registry, tick, idle } = setUp();
    tick([torrent(SEED, { left: 0, complete: true, peers: 2, uploadRate: 500, uploaded: 4000 }), torrent(LEECH, { left: 5000 })]);
    expect(await seriesOf(registry)).toEqual(new Set([SEED, LEECH]));
    // The peers leave: the seed's figures change once, then it is dormant and not sent again.
    tick([torrent(SEED, { left: 0, complete: true, uploaded: 4000 })]);
    idle(TORRENT_SERIES_LINGER_MS - 10_000);
    expect(await seriesOf(registry)).toEqual(new Set([SEED, LEECH]));
    expect(await value(registry, 'seedbox_torrent_peers', { info_hash: SEED })).toBe(0);
    idle(10_000 + TORRENT_SERIES_CHECK_MS);
    expect(await seriesOf(registry)).toEqual(new Set([LEECH]));
    // The incomplete one, with no peer for as long, keeps every series (the stalled-download alert reads them).
    idle(30 * MIN);
    expect(await value(registry, 'seedbox_torrent_left_bytes', { info_hash: LEECH })).toBe(5000);
    expect((await family(registry, 'seedbox_torrent_downloaded_bytes_total')).values).toHaveLength(1);
  });

  it('active: a torrent with a peer connected keeps its series however long its figures stay the same', async () => {
    const { registry, tick, idle } = setUp();
    tick([torrent(SEED, { left: 0, complete: true, peers: 1 })]);
    idle(60 * MIN);
    expect(await seriesOf(registry)).toEqual(new Set([SEED]));
  });

  it('active: a seed never seen active gets no series; one active again gets them back, its counters going on from its totals', async () => {
    const { registry, tick, idle } = setUp();
    // At start, thousands of idle seeds: no series, no work.
    const idleSeeds = Array.from({ length: 1000 }, (_, i) => torrent(i.toString(16).padStart(40, '0'), { left: 0, complete: true, uploaded: 7 }));
    tick(idleSeeds);
    expect(await seriesOf(registry)).toEqual(new Set());
    tick([torrent(SEED, { left: 0, complete: true, peers: 1, uploadRate: 100, uploaded: 10_000, downloaded: 3000, piecesVerified: 3 })]);
    expect(await value(registry, 'seedbox_torrent_uploaded_bytes_total', { info_hash: SEED })).toBe(10_000);
    tick([torrent(SEED, { left: 0, complete: true, uploaded: 10_000, downloaded: 3000, piecesVerified: 3 })]);
    idle(TORRENT_SERIES_LINGER_MS + TORRENT_SERIES_CHECK_MS);
    expect(await seriesOf(registry)).toEqual(new Set());
    // A peer comes, and more bytes go out: the series are back, from the whole totals (no reset for rate()).
    tick([torrent(SEED, { left: 0, complete: true, peers: 1, uploadRate: 100, uploaded: 12_500, downloaded: 3000, piecesVerified: 3 })]);
    expect(await value(registry, 'seedbox_torrent_uploaded_bytes_total', { info_hash: SEED })).toBe(12_500);
    expect(await value(registry, 'seedbox_torrent_downloaded_bytes_total', { info_hash: SEED })).toBe(3000);
    expect(await value(registry, 'seedbox_torrent_pieces_verified_total', { info_hash: SEED })).toBe(3);
    tick([torrent(SEED, { left: 0, complete: true, peers: 1, uploadRate: 100, uploaded: 13_000, downloaded: 3000, piecesVerified: 3 })]);
    expect(await value(registry, 'seedbox_torrent_uploaded_bytes_total', { info_hash: SEED })).toBe(13_000);
  });

  it('active: a peer within the 10 minutes starts them again; bytes moved with no peer or rate left (merged ticks) count as activity', async () => {
    const { registry, tick, idle } = setUp();
    tick([torrent(SEED, { left: 0, complete: true, peers: 1, uploaded: 100 })]);
    tick([torrent(SEED, { left: 0, complete: true, uploaded: 100 })]);
    idle(8 * MIN);
    tick([torrent(SEED, { left: 0, complete: true, peers: 1, uploaded: 100 })]);
    tick([torrent(SEED, { left: 0, complete: true, uploaded: 100 })]);
    idle(8 * MIN);
    expect(await seriesOf(registry)).toEqual(new Set([SEED]));
    // Its uploaded total grew, though the tick shows no peer and no rate.
    tick([torrent(SEED, { left: 0, complete: true, uploaded: 900 })]);
    idle(8 * MIN);
    expect(await value(registry, 'seedbox_torrent_uploaded_bytes_total', { info_hash: SEED })).toBe(900);
    idle(3 * MIN);
    expect(await seriesOf(registry)).toEqual(new Set());
  });

  it('active: a torrent gone loses its series at once, and a quiet one removed and added back is not dropped early', async () => {
    const { registry, tick, idle } = setUp();
    tick([torrent(SEED, { left: 0, complete: true, peers: 1 }), torrent(LEECH)]);
    tick([torrent(SEED, { left: 0, complete: true })], [LEECH]);
    expect(await seriesOf(registry)).toEqual(new Set([SEED]));
    idle(9 * MIN);
    tick([torrent(SEED, { left: 0, complete: true, peers: 1 })], [SEED]);
    tick([torrent(SEED, { left: 0, complete: true })]);
    idle(9 * MIN);
    expect(await seriesOf(registry)).toEqual(new Set([SEED]));
  });

  it('active: with every torrent in each tick (no changes given) it judges the same way', async () => {
    const { registry, m, advance } = setUp();
    const leech = torrent(LEECH);
    let seed = torrent(SEED, { left: 0, complete: true, peers: 1 });
    let time = 0;
    const full = () => m.observeTick({ time: ++time, torrents: [seed, leech] });
    full();
    seed = torrent(SEED, { left: 0, complete: true });
    full();
    for (let i = 0; i < 11; i++) {
      advance(MIN);
      full();
    }
    expect(await seriesOf(registry)).toEqual(new Set([LEECH]));
    // A missing torrent still loses its series, and the seed, still sent, gets none back while quiet.
    m.observeTick({ time: ++time, torrents: [seed] });
    expect(await seriesOf(registry)).toEqual(new Set());
  });

  it('active: a tick of only dormant torrents sets no series and drops none before their time', async () => {
    const { registry, tick, m, advance } = setUp();
    const seeds = Array.from({ length: 1000 }, (_, i) => torrent(i.toString(16).padStart(40, '0'), { left: 0, complete: true, peers: 1 }));
    tick(seeds);
    tick(seeds.map((s) => ({ ...s, peers: 0 })));
    const sets = vi.spyOn(Gauge.prototype, 'set');
    const removes = vi.spyOn(Gauge.prototype, 'remove');
    try {
      for (let i = 0; i < 100; i++) {
        advance(1000);
        m.observeTick({ time: i, torrents: [], changed: [], gone: [] });
      }
      expect(sets.mock.calls.filter((c) => typeof c[0] === 'object')).toHaveLength(0);
      expect(removes).not.toHaveBeenCalled();
    } finally {
      sets.mockRestore();
      removes.mockRestore();
    }
    expect((await seriesOf(registry)).size).toBe(1000);
  });

  it('all: every torrent keeps its series, idle seeds for ever', async () => {
    const { registry, tick, idle } = setUp('all');
    tick([torrent(SEED, { left: 0, complete: true, uploaded: 5 }), torrent(LEECH)]);
    idle(60 * MIN);
    expect(await seriesOf(registry)).toEqual(new Set([SEED, LEECH]));
    expect(await value(registry, 'seedbox_torrent_uploaded_bytes_total', { info_hash: SEED })).toBe(5);
    tick([], [SEED]);
    expect(await seriesOf(registry)).toEqual(new Set([LEECH]));
  });

  it('none: no per-torrent series at all; the process-wide metrics stay', async () => {
    const { registry, m, tick } = setUp('none');
    tick([torrent(SEED, { left: 0, complete: true, peers: 3, uploadRate: 100, uploaded: 5 }), torrent(LEECH, { downloadRate: 10, downloaded: 10 })]);
    m.observeTick({ time: 99, torrents: [torrent(LEECH)], connections: { handshaking: 2, refused: { 'handshake-timeout': 1 } } });
    m.setTorrentStates({ downloading: 1, seeding: 1, paused: 0 });
    expect(await seriesOf(registry)).toEqual(new Set());
    expect(await registry.metrics()).not.toContain('info_hash=');
    expect(await value(registry, 'seedbox_torrents', { state: 'seeding' })).toBe(1);
    expect(await value(registry, 'seedbox_connections_handshaking')).toBe(2);
    expect(await value(registry, 'seedbox_connections_refused_total', { reason: 'handshake-timeout' })).toBe(1);
  });
});

describe('QuietTorrents', () => {
  it('answers those quiet for the linger time, oldest first, looking at most every check interval and no further than the first not due', () => {
    const q = new QuietTorrents(100, 10);
    q.quiet('a', 0);
    q.quiet('b', 5);
    q.quiet('a', 8); // already running: keeps its time
    q.quiet('c', 50);
    expect(q.expired(99)).toEqual([]);
    // Looked at 99: the next look is at 109, not before.
    expect(q.expired(106)).toEqual([]);
    expect(q.expired(109)).toEqual(['a', 'b']);
    q.forget('c');
    q.quiet('c', 120); // quiet again: its time starts over
    expect(q.expired(200)).toEqual([]);
    expect(q.expired(220)).toEqual(['c']);
    expect(q.size).toBe(0);
  });
});

describe('exportedMetricNames', () => {
  it('lists the contract metrics, histogram series and default metrics of each service', () => {
    const pw = exportedMetricNames('peer-worker');
    for (const [name] of [...CONTRACT.common!, ...CONTRACT['peer-worker']!]) expect(pw).toContain(name);
    expect(pw).toContain('seedbox_piece_nats_round_trip_seconds_bucket');
    expect(pw).toContain('seedbox_piece_nats_round_trip_seconds_count');
    expect(pw).toContain('process_cpu_user_seconds_total');
    expect(pw).toContain('nodejs_gc_duration_seconds_bucket');
    expect(pw).not.toContain('seedbox_disk_write_seconds');
    expect(pw).toEqual([...pw].sort());

    const dw = exportedMetricNames('disk-writer');
    expect(dw).toContain('seedbox_disk_write_seconds_sum');
    expect(dw).toContain('seedbox_disk_pieces_total');
    expect(dw).not.toContain('seedbox_torrents');

    const tc = exportedMetricNames('tracker-client');
    expect(tc).toContain('seedbox_tracker_announcers');
    expect(tc).not.toContain('seedbox_disk_pieces_total');
  });
});

describe('the event-loop lag monitor', () => {
  it('samples every EVENT_LOOP_MONITOR_MS, not every 10 ms (100 wake-ups a second cost an idle process about 1% of a core)', async () => {
    const registry = new Registry();
    createCommonMetrics(registry, { service: 'test', version: '0' });
    await new Promise((r) => setTimeout(r, 4 * EVENT_LOOP_MONITOR_MS));
    // Node's histogram records the time between wake-ups: its smallest is the sampling period.
    const min = (await family(registry, 'nodejs_eventloop_lag_min_seconds')).values[0]!.value;
    expect(min).toBeGreaterThanOrEqual((EVENT_LOOP_MONITOR_MS * 0.9) / 1000);
  });
});
