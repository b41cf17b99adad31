import { statfs } from 'node:fs/promises';
import type { EncryptionMode } from '@seedbox/cluster';
import { listenOrExplain, type Logger, type WebConfig } from '@seedbox/runtime';
import type { ControlBackend } from '../control/backend.js';
import type { FleetView } from '../fleet/fleet-view.js';
import { createQbittorrentApi } from './qbittorrent/qbittorrent-api.js';
import { createSeedboxApi } from './seedbox-api.js';
import { fetchTorrentFile } from './torrent-url.js';
import { createTransmissionApi } from './transmission/transmission-api.js';
import type { WebApiContext } from './web-api.js';
import { createWebUi } from './web-ui.js';
import { trustedProxiesOf, webAuthOf, webHost } from './web-settings.js';
import { startWebServer, type WebServer } from './web-server.js';

/**
 * The web side of a peer-worker or of `seedbox serve`: the qBittorrent
 * WebAPI v2 under /api/v2/, the Transmission RPC at /transmission/rpc,
 * seedbox's own API (the fleet view) under /api/seedbox/v1/ and the web
 * UI at / (last: it takes whatever the APIs do not), on
 * SEEDBOX_WEB_HOST:SEEDBOX_WEB_PORT, over the same backend as gRPC.
 */

export interface StartWebApiOptions {
  config: WebConfig;
  backend: ControlBackend;
  dataDir: string;
  /** This process's SEEDBOX_ENCRYPTION, shown while the fleet's config sets no policy. */
  encryption: EncryptionMode;
  /** This process's SEEDBOX_DHT, in force while the fleet's config does not switch DHT. */
  dht: boolean;
  version: string;
  log: Logger;
  /** What the fleet view shows: NATS heartbeats in a peer-worker, the process itself in serve. */
  fleet?: FleetView;
}

export async function startWebApi(o: StartWebApiOptions): Promise<WebServer> {
  const auth = webAuthOf(o.config);
  const host = webHost(o.config, auth);
  const trustedProxies = trustedProxiesOf(o.config);
  const ctx: WebApiContext = {
    backend: o.backend,
    auth,
    dataDir: o.dataDir,
    encryption: o.encryption,
    dht: o.dht,
    version: o.version,
    log: o.log,
    fleet: o.fleet,
    now: Date.now,
    fetchTorrent: (url) => fetchTorrentFile(url),
    freeSpace: async (path) => {
      const s = await statfs(path);
      return s.bavail * s.bsize;
    },
  };
  // The UI's prefix is '/': it must come last, or it would take the APIs' paths.
  const apis = [createQbittorrentApi(ctx), createTransmissionApi(ctx), createSeedboxApi(ctx), createWebUi()];
  const server = await listenOrExplain('SEEDBOX_WEB_PORT (--web-port)', o.config.webPort, () => startWebServer({ host, port: o.config.webPort, apis, log: o.log, trustedProxies }));
  o.log.info('web APIs listening', { host, port: server.port, login: auth.required });
  return server;
}
