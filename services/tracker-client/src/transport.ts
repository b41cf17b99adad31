import { TrackerError, trackerUrlKind, type AnnounceParams, type AnnounceResponse, type ScrapeResponse } from '@seedbox/protocol';
import type { HttpAgentOptions } from './http-agents.js';
import { HttpTrackerClient, type HttpTrackerOptions } from './http-tracker.js';
import { UdpTrackerClient, type UdpTrackerOptions } from './udp-tracker.js';

/**
 * How an announce reaches a tracker. The announcer and the service core only
 * see this interface, so they run against a fake in unit tests (as nats.js
 * injects its transport) and against real sockets everywhere else.
 *
 * `announce` and `scrape` reject only with TrackerError; `signal` cancels
 * them (shutdown, or the deadline of a `stopped` announce).
 */
export interface TrackerTransport {
  announce(url: string, params: AnnounceParams, signal?: AbortSignal): Promise<AnnounceResponse>;
  /**
   * Scrapes `infoHashes` at the tracker of the announce URL `url` (BEP 48
   * over HTTP, at most 100 hashes; BEP 15 over UDP, at most 74). A
   * transport without it never scrapes.
   */
  scrape?(url: string, infoHashes: readonly Uint8Array[], signal?: AbortSignal): Promise<ScrapeResponse>;
  close(): Promise<void>;
}

export interface NetworkTransportOptions {
  http?: HttpTrackerOptions;
  /** The keep-alive pool of each HTTP tracker; its maxSockets should be the per-tracker limit (TrackerClient sets it so). */
  httpAgents?: HttpAgentOptions;
  udp?: UdpTrackerOptions;
}

/** http://, https:// and udp:// over node:http(s) (a keep-alive pool per tracker) and one shared UDP client. */
export class NetworkTrackerTransport implements TrackerTransport {
  private readonly udp: UdpTrackerClient;
  private readonly http: HttpTrackerClient;

  constructor(options: NetworkTransportOptions = {}) {
    this.udp = new UdpTrackerClient(options.udp);
    this.http = new HttpTrackerClient(options.http, options.httpAgents);
  }

  announce(url: string, params: AnnounceParams, signal?: AbortSignal): Promise<AnnounceResponse> {
    return this.route(url, () => this.http.announce(url, params, signal), () => this.udp.announce(url, params, signal));
  }

  scrape(url: string, infoHashes: readonly Uint8Array[], signal?: AbortSignal): Promise<ScrapeResponse> {
    return this.route(url, () => this.http.scrape(url, infoHashes, signal), () => this.udp.scrape(url, infoHashes, signal));
  }

  /** Closes every pooled HTTP connection and the UDP sockets, cancelling what is under way. */
  async close(): Promise<void> {
    this.http.close();
    await this.udp.close();
  }

  private async route<T>(url: string, http: () => Promise<T>, udp: () => Promise<T>): Promise<T> {
    try {
      switch (trackerUrlKind(url)) {
        case 'http':
          return await http();
        case 'udp':
          return await udp();
        default:
          throw new TrackerError('TRACKER_BAD_URL', `'${url}' is not an http, https or udp announce URL`);
      }
    } catch (e) {
      // The contract is "only TrackerError": anything else is a bug of ours,
      // but it must still become a warning and a failover, not a crash.
      if (e instanceof TrackerError) throw e;
      throw new TrackerError('TRACKER_NETWORK', `tracker request failed: ${String(e)}`, { cause: e });
    }
  }
}
