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

/** One API: a path prefix and the function answering every request under it. */
export interface WebApi {
  /** e.g. `/api/v2/`, `/transmission/rpc`. */
  prefix: string;
  handle(req: WebRequest): Promise<WebResponse>;
}
