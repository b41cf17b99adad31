import type { Metainfo } from '@seedbox/protocol';

/**
 * A torrent's trackers and magnet link as Transmission shows them, from
 * the metainfo alone. Pure.
 *
 * Announces are the tracker-client service's business and their outcomes
 * do not reach the control backend, so trackerStats carries what the
 * metainfo says and Transmission's "unknown" (-1) for the counts; the
 * fields about announces and scrapes (hasAnnounced, lastAnnounceResult,
 * nextAnnounceTime...) are left out rather than filled with zeros that
 * would read as "never announced".
 */

interface Tracker {
  announce: string;
  id: number;
  scrape: string;
  tier: number;
}

export function trackersOf(m: Pick<Metainfo, 'announce'>): Tracker[] {
  const out: Tracker[] = [];
  m.announce.forEach((tier, t) => {
    for (const announce of tier) out.push({ announce, id: out.length, scrape: scrapeUrl(announce), tier: t });
  });
  return out;
}

/**
 * The scrape convention (BEP 48): an http(s) announce URL whose last path
 * segment starts with "announce" scrapes at the same URL with "scrape" in
 * its place; a UDP tracker scrapes at its announce address; anything else
 * has no scrape URL ('').
 */
export function scrapeUrl(announce: string): string {
  let url: URL;
  try {
    url = new URL(announce);
  } catch {
    return '';
  }
  if (url.protocol === 'udp:') return announce;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return '';
  const slash = url.pathname.lastIndexOf('/');
  const last = url.pathname.slice(slash + 1);
  if (!last.startsWith('announce')) return '';
  url.pathname = `${url.pathname.slice(0, slash + 1)}scrape${last.slice('announce'.length)}`;
  return url.toString();
}

const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** scheme://host:port, as transmission-remote prints a tracker; '' when the URL does not parse. */
function hostOf(announce: string): string {
  try {
    const url = new URL(announce);
    const port = url.port || DEFAULT_PORT[url.protocol] || '';
    return `${url.protocol}//${url.hostname}${port ? `:${port}` : ''}`;
  } catch {
    return '';
  }
}

export function trackerStatsOf(m: Pick<Metainfo, 'announce'>): Record<string, unknown>[] {
  return trackersOf(m).map((t) => ({
    announce: t.announce,
    host: hostOf(t.announce),
    id: t.id,
    scrape: t.scrape,
    tier: t.tier,
    seederCount: -1,
    leecherCount: -1,
    downloadCount: -1,
  }));
}

/** Announce URLs one per line, a blank line between tiers (rpc-spec's trackerList). */
export function trackerListOf(m: Pick<Metainfo, 'announce'>): string {
  return m.announce.map((tier) => tier.join('\n')).join('\n\n');
}

/** A magnet link as Transmission writes one: the info hash, the name, every tracker, every web seed. */
export function magnetLinkOf(m: Pick<Metainfo, 'infoHashHex' | 'name' | 'announce' | 'urlList'>): string {
  const parts = [`xt=urn:btih:${m.infoHashHex}`, `dn=${encodeURIComponent(m.name)}`];
  for (const tier of m.announce) for (const url of tier) parts.push(`tr=${encodeURIComponent(url)}`);
  for (const url of m.urlList) parts.push(`ws=${encodeURIComponent(url)}`);
  return `magnet:?${parts.join('&')}`;
}
