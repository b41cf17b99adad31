import type { EncryptionMode } from '@seedbox/cluster';
import type { Logger } from '@seedbox/runtime';
import type { ControlBackend } from '../control/backend.js';
import type { FleetView } from '../fleet/fleet-view.js';
import type { FetchedTorrent } from './torrent-url.js';
import type { WebAuth } from './web-auth.js';
import type { WebRequest, WebResponse } from './web-request.js';

/** What the web APIs (qbittorrent/, transmission/, seedbox-api.ts) are given: the same backend the gRPC API uses, and the shared login. */
export interface WebApiContext {
  backend: ControlBackend;
  auth: WebAuth;
  /** The data folder as this process sees it; save folders are inside it. */
  dataDir: string;
  /**
   * This process's SEEDBOX_ENCRYPTION: the policy in force while the
   * fleet's config sets none. Absent: 'prefer', the engine's default.
   */
  encryption?: EncryptionMode | undefined;
  /**
   * This process's SEEDBOX_DHT: whether public torrents go on the DHT
   * while the fleet's config does not say. Absent: true, its default.
   */
  dht?: boolean | undefined;
  /** seedbox's version, for the APIs that report the server's. */
  version: string;
  log: Logger;
  now(): number;
  /** Fetches a .torrent file from an http(s) URL (an `add` by URL), or the magnet link it redirects to; throws WebRequestError 400 with the reason. */
  fetchTorrent(url: string): Promise<FetchedTorrent>;
  /** Free bytes of the file system holding `path`. */
  freeSpace(path: string): Promise<number>;
  /** The fleet's members and rates (seedbox's own API); absent, its `fleet` answers 503. */
  fleet?: FleetView | undefined;
}

/** The encryption policy in force for new connections: the fleet config's, else this process's own. */
export function encryptionInForce(config: { encryption?: EncryptionMode | undefined }, ctx: Pick<WebApiContext, 'encryption'>): EncryptionMode {
  return config.encryption ?? ctx.encryption ?? 'prefer';
}

/** Whether public torrents are looked up and announced on the DHT: the fleet config's switch, else this process's own. */
export function dhtInForce(config: { dht?: boolean | undefined }, ctx: Pick<WebApiContext, 'dht'>): boolean {
  return config.dht ?? ctx.dht ?? true;
}

/** One API: a path prefix and the function answering every request under it. */
export interface WebApi {
  /** e.g. `/api/v2/`, `/transmission/rpc`. */
  prefix: string;
  handle(req: WebRequest): Promise<WebResponse>;
}
