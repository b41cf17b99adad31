import type { TorrentSnapshot as TorrentTick } from '@seedbox/peer-worker';
import { formatBytes, formatDuration, formatRate } from './format.js';

/**
 * The terminal progress line, redrawn in place on each tick. It reads only
 * the tick's statistics, the same ones the JSON lines and metrics use.
 */
export class ProgressBar {
  private readonly isTty: boolean;
  constructor(private readonly stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }) {
    this.isTty = Boolean(stream.isTTY);
  }

  // Of what is wanted: with files skipped, 100% is every wanted piece, not the torrent.
  line(t: TorrentTick): string {
    const done = t.wanted - t.wantedLeft;
    const fraction = t.wanted > 0 ? done / t.wanted : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    const ratio = t.downloaded > 0 ? (t.uploaded / t.downloaded).toFixed(2) : '-';
    return `${bar} ${(fraction * 100).toFixed(1).padStart(5)}%  down ${formatRate(t.downloadRate).padStart(12)}  up ${formatRate(
      t.uploadRate,
    ).padStart(12)}  ETA ${formatDuration(t.eta ?? NaN)}  peers ${t.peers}  ratio ${ratio}  ${formatBytes(done)}/${formatBytes(t.wanted)}${t.wanted < t.totalLength ? ` (of ${formatBytes(t.totalLength)})` : ''}`;
  }

  render(t: TorrentTick): void {
    // Off a terminal (a log file), one line per tick instead of redrawing.
    this.stream.write(this.isTty ? `\r\x1b[2K${this.line(t)}` : `${this.line(t)}\n`);
  }

  finish(t: TorrentTick, seconds: number): void {
    const avg = seconds > 0 ? (t.wanted - t.wantedLeft) / seconds : 0;
    if (this.isTty) this.stream.write(`\r\x1b[2K${this.line(t)}\n`);
    if (t.done) this.stream.write(`done: ${t.name}, ${formatBytes(t.wanted)} in ${seconds.toFixed(1)} s (${formatRate(avg)})\n`);
  }
}
