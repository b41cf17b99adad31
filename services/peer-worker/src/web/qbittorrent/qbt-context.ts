import type { WebApiContext } from '../web-api.js';
import type { FormFields, WebRequest, WebResponse } from '../web-request.js';
import type { TorrentPeersStore } from './qbt-peers.js';
import type { MaindataStore } from './qbt-sync.js';

/** What every WebAPI handler is given: the shared context and this API's own per-process state. */
export interface QbtApp {
  ctx: WebApiContext;
  /** sync/maindata's recent answers, to diff the next one against. */
  maindata: MaindataStore;
  /** sync/torrentPeers's, likewise. */
  peers: TorrentPeersStore;
  /**
   * Tags made with createTags that no torrent carries yet. Tags live on
   * torrents in this backend, so these exist in this process only (not on
   * other replicas, not past a restart) until a torrent gets one.
   */
  looseTags: Set<string>;
}

export interface QbtCall {
  app: QbtApp;
  req: WebRequest;
  /** The request's parameters: the query, and the body's form fields. */
  params: FormFields;
}

export type QbtHandler = (call: QbtCall) => Promise<WebResponse>;

/** At most this many loose tags are kept, so createTags cannot grow memory without end. */
export const MAX_LOOSE_TAGS = 1000;
