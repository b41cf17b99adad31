import { TrackerError, trackerUrlKind, type AnnounceParams, type AnnounceResponse } from '@seedbox/protocol';
import { httpAnnounce, type HttpTrackerOptions } from './http-tracker.js';
import { UdpTrackerClient, type UdpTrackerOptions } from './udp-tracker.js';

/**
 * How an announce reaches a tracker. The announcer and the service core only
 * see this interface, so they run against a fake in unit tests (as nats.js
 * injects its transport) and against real sockets everywhere else.
 *
 * `announce` rejects only with TrackerError; `signal` cancels it (shutdown,
 * or the deadline of a `stopped` announce).
 */
export interface TrackerTransport {
  announce(url: string, params: AnnounceParams, signal?: AbortSignal): Promise<AnnounceResponse>;
  close(): Promise<void>;
}

export interface NetworkTransportOptions {
  http?: HttpTrackerOptions;
  udp?: UdpTrackerOptions;
}

/** http://, https:// and udp:// over node:http(s) and one shared UDP client. */
export class NetworkTrackerTransport implements TrackerTransport {
  private readonly udp: UdpTrackerClient;

  constructor(private readonly options: NetworkTransportOptions = {}) {
    this.udp = new UdpTrackerClient(options.udp);
  }

  async announce(url: string, params: AnnounceParams, signal?: AbortSignal): Promise<AnnounceResponse> {
    try {
      switch (trackerUrlKind(url)) {
        case 'http':
          return await httpAnnounce(url, params, this.options.http, signal);
        case 'udp':
          return await this.udp.announce(url, params, signal);
        default:
          throw new TrackerError('TRACKER_BAD_URL', `'${url}' is not an http, https or udp announce URL`);
      }
    } catch (e) {
      // The contract is "only TrackerError": anything else is a bug of ours,
      // but it must still become a warning and a failover, not a crash.
      if (e instanceof TrackerError) throw e;
      throw new TrackerError('TRACKER_NETWORK', `announce failed: ${String(e)}`, { cause: e });
    }
  }

  close(): Promise<void> {
    return this.udp.close();
  }
}
