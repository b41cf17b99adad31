import { BandwidthPath, Shaper, type ShaperOptions } from './shaper.js';
import { checkedRate, TokenBucket } from './token-bucket.js';

/**
 * The engine's speed limits as a hierarchy: one bucket per direction for
 * the whole engine, one per direction for each torrent under it, and a
 * connection moves bytes only when both grant them (see shaper.ts). A
 * torrent's limit can only narrow the engine's, never widen it.
 */

/**
 * A pair of limits in bytes per second. A direction left out, or 0, is
 * unlimited (see token-bucket.ts for why 0 means no limit). Setting a pair
 * replaces both: `{ download: X }` lifts an upload limit.
 */
export interface BandwidthLimits {
  download?: number | undefined;
  upload?: number | undefined;
}

/** The pair in force, with 0 for "no limit". */
export interface ResolvedLimits {
  download: number;
  upload: number;
}

/**
 * The two pairs a user configures and which one holds: Transmission's and
 * qBittorrent's "alternative speeds" (turtle mode). The settings that hold
 * these are kept elsewhere; the engine only ever hears the pair in force.
 */
export interface SpeedLimitsConfig {
  limits?: BandwidthLimits | undefined;
  alternative?: BandwidthLimits | undefined;
  /** The alternative pair holds instead of the normal one. */
  alternativeOn?: boolean | undefined;
}

/** Which pair of a config is in force: what to hand `Engine.setLimits` when the config or the switch changes. */
export function effectiveLimits(config: SpeedLimitsConfig): ResolvedLimits {
  return resolveLimits((config.alternativeOn ? config.alternative : config.limits) ?? {});
}

/** Checks a pair (a typed BandwidthLimitError names the bad one) and fills in the zeros. */
export function resolveLimits(limits: BandwidthLimits): ResolvedLimits {
  return { download: checkedRate('download', limits.download), upload: checkedRate('upload', limits.upload) };
}

export interface BandwidthOptions {
  now?: (() => number) | undefined;
  shaper?: ShaperOptions | undefined;
}

/** The paths a torrent's sessions take, one per direction. */
export interface SessionBandwidth {
  download: BandwidthPath;
  upload: BandwidthPath;
}

/** The engine-wide half: the two shapers and the global buckets. */
export class Bandwidth {
  readonly downloads: Shaper;
  readonly uploads: Shaper;
  private readonly global: { download: TokenBucket; upload: TokenBucket };
  private readonly now: () => number;

  constructor(limits: BandwidthLimits = {}, options: BandwidthOptions = {}) {
    const l = resolveLimits(limits);
    this.now = options.now ?? (() => performance.now());
    this.downloads = new Shaper(options.shaper);
    this.uploads = new Shaper(options.shaper);
    this.global = { download: new TokenBucket(l.download, this.now), upload: new TokenBucket(l.upload, this.now) };
  }

  get limits(): ResolvedLimits {
    return { download: this.global.download.rate, upload: this.global.upload.rate };
  }

  /** Replaces the engine-wide pair, at once: waiters a lifted or raised limit frees go on the next turn of the event loop. */
  setLimits(limits: BandwidthLimits): void {
    const l = resolveLimits(limits);
    this.global.download.setRate(l.download);
    this.global.upload.setRate(l.upload);
    this.downloads.kick();
    this.uploads.kick();
  }

  /** A torrent's buckets under the engine's, with its own pair. */
  torrent(limits: BandwidthLimits = {}): TorrentBandwidth {
    return new TorrentBandwidth(this, this.global, resolveLimits(limits), this.now);
  }

  /** Whether each direction was held back by a limit since the last call (a fleet worker's "wanting"; see fleet-share.ts). */
  takeWanting(): { download: boolean; upload: boolean } {
    return { download: this.downloads.takeWanting(), upload: this.uploads.takeWanting() };
  }
}

/** One torrent's half: its two buckets, and the paths through them and the engine's. */
export class TorrentBandwidth {
  readonly paths: SessionBandwidth;
  private readonly own: { download: TokenBucket; upload: TokenBucket };

  constructor(
    private readonly engine: Bandwidth,
    global: { download: TokenBucket; upload: TokenBucket },
    limits: ResolvedLimits,
    now: () => number,
  ) {
    this.own = { download: new TokenBucket(limits.download, now), upload: new TokenBucket(limits.upload, now) };
    // Every session of the torrent shares these paths: the buckets are the torrent's, the turn-taking the engine's.
    this.paths = {
      download: new BandwidthPath(engine.downloads, [this.own.download, global.download]),
      upload: new BandwidthPath(engine.uploads, [this.own.upload, global.upload]),
    };
  }

  get limits(): ResolvedLimits {
    return { download: this.own.download.rate, upload: this.own.upload.rate };
  }

  /** Replaces the torrent's pair, at once. */
  setLimits(limits: BandwidthLimits): void {
    const l = resolveLimits(limits);
    this.own.download.setRate(l.download);
    this.own.upload.setRate(l.upload);
    this.engine.downloads.kick();
    this.engine.uploads.kick();
  }
}
