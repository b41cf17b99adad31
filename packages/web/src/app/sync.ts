import { ApiError, type Api } from './api.js';
import { mergeMaindata, type SyncState } from './maindata.js';

/**
 * The live list: one sync/maindata poll at a time, the next one a
 * refresh interval (the server's, a second by default) after the last
 * answer, never overlapping. A 403 stops the loop and asks for a login;
 * other failures are reported once and retried with a growing pause
 * (up to 10 s) until the server answers again.
 */

export interface SyncEvents {
  onState(state: SyncState): void;
  /** A poll failed (undefined: it works again). */
  onTrouble(e: ApiError | undefined): void;
  onLoginNeeded(): void;
}

const MAX_RETRY_MS = 10_000;

export class SyncLoop {
  private state: SyncState | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inFlight = false;
  private running = false;
  private failures = 0;
  /** A poll asked for while one was in flight: run it when that one ends. */
  private again = false;

  constructor(
    private readonly api: Api,
    private readonly events: SyncEvents,
  ) {}

  /** Starts from a full update. */
  start(): void {
    this.stop();
    this.state = undefined;
    this.running = true;
    void this.poll();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Polls now (after an action, so its effect shows at once). */
  refresh(): void {
    if (!this.running) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    void this.poll();
  }

  private async poll(): Promise<void> {
    this.timer = undefined;
    this.inFlight = true;
    let delay: number;
    try {
      const answer = await this.api.maindata(this.state?.rid ?? 0);
      if (!this.running) return;
      this.state = mergeMaindata(this.state, answer);
      if (this.failures > 0) this.events.onTrouble(undefined);
      this.failures = 0;
      this.events.onState(this.state);
      delay = Math.max(250, this.state.server.refresh_interval || 1000);
    } catch (e) {
      if (!this.running) return;
      const err = e instanceof ApiError ? e : new ApiError(0, 'The list could not be read');
      if (err.needsLogin) {
        this.stop();
        this.events.onLoginNeeded();
        return;
      }
      this.failures++;
      if (this.failures === 1) this.events.onTrouble(err);
      delay = Math.min(MAX_RETRY_MS, 1000 * 2 ** (this.failures - 1));
    } finally {
      this.inFlight = false;
    }
    if (!this.running) return;
    if (this.again) {
      this.again = false;
      delay = 0;
    }
    this.timer = setTimeout(() => void this.poll(), delay);
  }
}
