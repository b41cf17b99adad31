import { TrackerError, type AnnounceParams, type AnnounceResponse } from '@seedbox/protocol';
import type { TrackerTransport } from '../../src/transport.js';

export interface RecordedAnnounce {
  url: string;
  params: AnnounceParams;
  at: number;
}

type Script = (params: AnnounceParams, call: number) => AnnounceResponse | Promise<AnnounceResponse>;

/**
 * A transport with no sockets: each URL answers from a script, and every
 * call is recorded. For the announcer's and the service core's logic; the
 * real transports are tested against real servers elsewhere.
 */
export class FakeTransport implements TrackerTransport {
  readonly calls: RecordedAnnounce[] = [];
  private readonly scripts = new Map<string, Script>();
  private readonly counts = new Map<string, number>();
  closed = false;

  on(url: string, script: Script): this {
    this.scripts.set(url, script);
    return this;
  }

  async announce(url: string, params: AnnounceParams, signal?: AbortSignal): Promise<AnnounceResponse> {
    this.calls.push({ url, params: { ...params }, at: Date.now() });
    const n = (this.counts.get(url) ?? 0) + 1;
    this.counts.set(url, n);
    const script = this.scripts.get(url);
    if (!script) throw new TrackerError('TRACKER_NETWORK', `no route to ${url}`);
    const result = script(params, n);
    if (!signal) return result;
    return new Promise<AnnounceResponse>((resolve, reject) => {
      if (signal.aborted) reject(new TrackerError('TRACKER_ABORTED', 'aborted'));
      signal.addEventListener('abort', () => reject(new TrackerError('TRACKER_ABORTED', 'aborted')), { once: true });
      Promise.resolve(result).then(resolve, reject);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  eventsTo(url: string): string[] {
    return this.calls.filter((c) => c.url === url).map((c) => c.params.event);
  }
}

export const reply = (over: Partial<AnnounceResponse> = {}): AnnounceResponse => ({ interval: 1800, peers: [], invalidPeers: 0, ...over });

/** Never settles (a tracker that does not answer); only an abort ends it. */
export const hang = (): Promise<AnnounceResponse> => new Promise(() => {});

/** Resolves when `check` holds, polling; fails the test after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
