import { MAX_METAINFO_BYTES } from '@seedbox/protocol';
import { WebRequestError } from './web-request.js';

/** What a torrent URL led to: the .torrent file, or a magnet link an indexer redirected to. */
export type FetchedTorrent = { kind: 'torrent'; bytes: Uint8Array } | { kind: 'magnet'; uri: string };

const MAX_REDIRECTS = 5;

/**
 * Downloads a .torrent file named by URL, as both APIs' "add" take one
 * (Sonarr and Prowlarr hand over indexer links). Only http and https;
 * capped at the metainfo size limit and a deadline, so a slow or endless
 * server ties up nothing. Redirects are followed by hand, because an
 * indexer's download link often redirects to a magnet link (Prowlarr's
 * do), which is then handed back rather than fetched.
 */
export async function fetchTorrentFile(url: string, o: { timeoutMs?: number; maxBytes?: number } = {}): Promise<FetchedTorrent> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new WebRequestError(400, `not a URL: ${JSON.stringify(url.slice(0, 200))}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new WebRequestError(400, `only http and https URLs are fetched, not ${parsed.protocol}`);
  const maxBytes = o.maxBytes ?? MAX_METAINFO_BYTES;
  const signal = AbortSignal.timeout(o.timeoutMs ?? 30_000);
  let res: Response;
  for (let hops = 0; ; hops++) {
    try {
      res = await fetch(parsed, { signal, redirect: 'manual' });
    } catch (e) {
      throw new WebRequestError(400, `fetching ${parsed.origin}${parsed.pathname} failed: ${(e as Error).message}`, { cause: e });
    }
    const location = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
    if (location === null) break;
    await res.body?.cancel();
    if (/^magnet:/i.test(location)) return { kind: 'magnet', uri: location };
    if (hops === MAX_REDIRECTS) throw new WebRequestError(400, `fetching ${parsed.origin}${parsed.pathname}: more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, parsed);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new WebRequestError(400, `${parsed.origin}${parsed.pathname} redirects to ${next.protocol}, which is not fetched`);
    parsed = next;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new WebRequestError(400, `fetching ${parsed.origin}${parsed.pathname} answered HTTP ${res.status}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  try {
    for (;;) {
      const next = await reader?.read();
      if (!next || next.done) break;
      size += next.value.length;
      if (size > maxBytes) {
        await reader?.cancel();
        throw new WebRequestError(400, `${parsed.origin}${parsed.pathname} is over ${maxBytes} bytes: not a torrent file`);
      }
      chunks.push(next.value);
    }
  } catch (e) {
    if (e instanceof WebRequestError) throw e;
    throw new WebRequestError(400, `fetching ${parsed.origin}${parsed.pathname} failed: ${(e as Error).message}`, { cause: e });
  }
  return { kind: 'torrent', bytes: Buffer.concat(chunks) };
}
