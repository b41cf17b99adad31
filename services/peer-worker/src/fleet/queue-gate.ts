import type { QueueConfig } from '@seedbox/cluster';
import { activeTorrents, SlowWatch, type QueueCandidate } from './fleet-policy.js';
import type { FleetPicture } from './fleet-picture.js';
import type { SyncWork } from './sync-passes.js';

/**
 * The queue's answer as the runner keeps it between sync passes: which
 * running torrents are active now (activeTorrents, fleet-policy.ts),
 * brought up to date from what a pass was marked with, and the torrents
 * whose answer changed handed back to be reconciled too.
 *
 * With queueing off, every running torrent is active: a fact of each
 * torrent alone, so only the marked ones are looked at. With queueing on
 * the answer is over all of them (their order, the limits), so it is
 * worked out whole, but only when it may have moved: a marked torrent
 * started or stopped running, or changed its queue key, force start or
 * whether it is done, or the queue's settings or a torrent's slowness
 * changed. A download's bitfield growing every second moves nothing. Each
 * running torrent's candidate is kept and changed in place, in the order
 * torrents came (mostly their queue order already, so sorting it is cheap):
 * 10,000 torrents' answer is then a few milliseconds less per add.
 */
export class QueueGate {
  private active = new Set<string>();
  /** Queueing was on at the last update. */
  private enabled = false;
  /** Each running torrent's place in the queue, while queueing is on. */
  private readonly candidates = new Map<string, QueueCandidate>();
  private order: QueueCandidate[] = [];
  private readonly slow = new SlowWatch();
  /** The torrents slow at their last figures. */
  private readonly slowNow = new Set<string>();
  /** The slow thresholds (and time) the torrents were last judged by. */
  private thresholds: string | undefined;

  has(infoHashHex: string): boolean {
    return this.active.has(infoHashHex);
  }

  /**
   * One tick's figures, those that changed (from every worker), and the
   * torrents with no figures any more; answers whether a torrent turned
   * slow or stopped being, so that a queue that leaves slow torrents out
   * of its count may move on. A torrent whose figures did not change has
   * the same rates, so only time (SlowWatch.due) or new thresholds (every
   * torrent judged again, once) can change its answer.
   */
  observe(list: Iterable<{ infoHashHex: string; downloadRate: number; uploadRate: number }>, q: QueueConfig, now: number, removed: Iterable<string> = []): boolean {
    let changed = false;
    for (const hex of removed) {
      this.slow.forget(hex);
      if (this.slowNow.delete(hex)) changed = true;
    }
    const thresholds = `${q.slowDownloadRate} ${q.slowUploadRate} ${q.slowSeconds}`;
    if (thresholds !== this.thresholds) {
      this.thresholds = thresholds;
      for (const [hex, r] of this.slow.rates()) changed = this.note(hex, this.slow.observe(hex, r.down, r.up, q, now)) || changed;
      this.slow.requeue();
    }
    for (const s of list) changed = this.note(s.infoHashHex, this.slow.observe(s.infoHashHex, s.downloadRate, s.uploadRate, q, now)) || changed;
    for (const hex of this.slow.due(q, now)) changed = this.note(hex, true) || changed;
    return changed;
  }

  /** Whether the torrent's slowness is news. */
  private note(infoHashHex: string, slow: boolean): boolean {
    if (slow === this.slowNow.has(infoHashHex)) return false;
    if (slow) this.slowNow.add(infoHashHex);
    else this.slowNow.delete(infoHashHex);
    return true;
  }

  /** Brings the active set up to date with what `work` marked; answers the torrents whose active-ness changed. */
  update(picture: FleetPicture, q: QueueConfig, work: SyncWork, now: number): string[] {
    const wasEnabled = this.enabled;
    this.enabled = q.enabled;
    if (!q.enabled) {
      this.candidates.clear();
      this.order = [];
      return this.unqueued(picture, work, wasEnabled);
    }
    let moved = work.queue;
    if (work.all || !wasEnabled) {
      this.candidates.clear();
      for (const [hex, { entry, meta }] of picture.entries()) {
        if (entry.desired === 'running') this.candidates.set(hex, { infoHashHex: hex, settings: entry.settings, complete: picture.isDone(hex, entry, meta), slow: false });
      }
      this.order = [...this.candidates.values()];
      moved = true;
    } else if (this.placesMoved(picture, work.torrents)) moved = true;
    if (!moved) return [];
    for (const c of this.order) c.slow = this.slow.isSlow(c.infoHashHex, q, now);
    return this.replace(activeTorrents(this.order, q));
  }

  /** Queueing off: a marked torrent is active while it is running. */
  private unqueued(picture: FleetPicture, work: SyncWork, wasEnabled: boolean): string[] {
    if (work.all || wasEnabled) {
      const next = new Set<string>();
      for (const [hex, { entry }] of picture.entries()) if (entry.desired === 'running') next.add(hex);
      return this.replace(next);
    }
    const changed: string[] = [];
    for (const hex of work.torrents) {
      const running = picture.get(hex)?.entry.desired === 'running';
      if (running === this.active.has(hex)) continue;
      if (running) this.active.add(hex);
      else this.active.delete(hex);
      changed.push(hex);
    }
    return changed;
  }

  /** Brings the marked torrents' candidates up to date; answers whether any place in the queue moved. */
  private placesMoved(picture: FleetPicture, torrents: Iterable<string>): boolean {
    let moved = false;
    let removed = false;
    for (const hex of torrents) {
      const reg = picture.get(hex);
      const c = this.candidates.get(hex);
      if (!reg || reg.entry.desired !== 'running') {
        if (c) {
          this.candidates.delete(hex);
          removed = moved = true;
        }
        continue;
      }
      const s = reg.entry.settings;
      const complete = picture.isDone(hex, reg.entry, reg.meta);
      if (!c) {
        const added = { infoHashHex: hex, settings: s, complete, slow: false };
        this.candidates.set(hex, added);
        this.order.push(added);
        moved = true;
        continue;
      }
      if (c.settings.queueKey !== s.queueKey || c.settings.forceStart !== s.forceStart || c.complete !== complete) moved = true;
      c.settings = s;
      c.complete = complete;
    }
    if (removed) this.order = this.order.filter((c) => this.candidates.get(c.infoHashHex) === c);
    return moved;
  }

  private replace(next: Set<string>): string[] {
    const changed: string[] = [];
    for (const hex of next) if (!this.active.has(hex)) changed.push(hex);
    for (const hex of this.active) if (!next.has(hex)) changed.push(hex);
    this.active = next;
    return changed;
  }
}
