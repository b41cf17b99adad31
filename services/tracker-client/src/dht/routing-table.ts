import { ID_BITS, addressKey, commonPrefixLength, compareDistance, idToHex, randomIdWithPrefix, sameId, type NodeContact } from './node-id.js';

/**
 * The Kademlia routing table (BEP 5): k-buckets that know many nodes near
 * our own id and few far from it.
 *
 * Layout: bucket i holds the nodes whose id shares exactly i leading bits
 * with ours, except the last bucket, which holds every id sharing at least
 * that many. Only the last bucket (the one our own id falls in) ever splits,
 * and only when splitting moves a node, so the table is at most 160 buckets
 * of k live nodes plus k replacements each: bounded by construction, however
 * many nodes an attacker makes up.
 *
 * Only nodes that answered one of our queries are inserted (`heard`): a node
 * we were merely told about, or one that queried us, may not exist at that
 * address, and a table full of such entries is the classic poisoning attack.
 * The DHT node pings a querier whose bucket would take it (`wouldAccept`),
 * and the answer puts it in.
 *
 * Node states, from BEP 5:
 * - good: answered one of our queries in the last 15 minutes, or answered
 *   once ever and queried us in the last 15 minutes;
 * - questionable: otherwise, until it fails queries;
 * - bad: failed `badAfterFailures` queries in a row. A bad node is replaced
 *   by a new verified node at once, or by the freshest replacement when it
 *   goes bad; a full bucket of good and questionable nodes sends newcomers to
 *   its replacement list, which the DHT node drains by pinging the
 *   questionable ones (`questionable()`) until they prove good or go bad.
 *
 * Everything is synchronous and takes the clock as an option, so tests
 * drive time by hand.
 */

export type NodeState = 'good' | 'questionable' | 'bad';

export interface RoutingTableOptions {
  /** Nodes per bucket (BEP 5: 8). */
  k?: number;
  now?: () => number;
  /** A node silent for this long is questionable (BEP 5: 15 min). */
  questionableAfterMs?: number;
  /** Failed queries in a row that make a node bad. */
  badAfterFailures?: number;
  /** A bucket nothing happened in for this long wants a refresh lookup (BEP 5: 15 min). */
  refreshAfterMs?: number;
}

export const ROUTING_TABLE_DEFAULTS = {
  k: 8,
  questionableAfterMs: 15 * 60_000,
  badAfterFailures: 2,
  refreshAfterMs: 15 * 60_000,
} as const;

/** One node of the table, as read by callers (a copy: the table owns its entries). */
export interface RoutingEntry extends NodeContact {
  state: NodeState;
  /** When it last answered one of our queries (ms). */
  lastResponse: number;
  /** Failed queries in a row since its last answer. */
  failures: number;
}

/** What `heard` did with a node. */
export type HeardOutcome = 'added' | 'updated' | 'replacement' | 'rejected';

interface Entry {
  id: Uint8Array;
  host: string;
  port: number;
  key: string;
  lastResponse: number;
  /** When it last queried us; counts only once it has answered us (BEP 5). */
  lastQuery: number;
  failures: number;
}

interface Bucket {
  nodes: Entry[];
  replacements: Entry[];
  /** Last time a node was added to it or answered, or a lookup went through its range. */
  lastChanged: number;
}

export class RoutingTable {
  readonly ownId: Uint8Array;
  readonly k: number;
  private readonly opts: Required<Omit<RoutingTableOptions, 'now' | 'k'>>;
  private readonly now: () => number;
  private readonly buckets: Bucket[];
  /** Every entry, live or replacement, by address: one entry per address. */
  private readonly byAddress = new Map<string, Entry>();
  /** Every entry by hex id: one address per id. */
  private readonly byId = new Map<string, Entry>();

  constructor(ownId: Uint8Array, options: RoutingTableOptions = {}) {
    this.ownId = ownId;
    this.k = options.k ?? ROUTING_TABLE_DEFAULTS.k;
    this.now = options.now ?? Date.now;
    this.opts = {
      questionableAfterMs: options.questionableAfterMs ?? ROUTING_TABLE_DEFAULTS.questionableAfterMs,
      badAfterFailures: options.badAfterFailures ?? ROUTING_TABLE_DEFAULTS.badAfterFailures,
      refreshAfterMs: options.refreshAfterMs ?? ROUTING_TABLE_DEFAULTS.refreshAfterMs,
    };
    // A new table has one bucket covering the whole space; it has "changed"
    // now, so a fresh node does not refresh before its bootstrap lookup.
    this.buckets = [{ nodes: [], replacements: [], lastChanged: this.now() }];
  }

  /** Live nodes (not counting replacements). */
  get size(): number {
    let n = 0;
    for (const b of this.buckets) n += b.nodes.length;
    return n;
  }

  get replacementCount(): number {
    let n = 0;
    for (const b of this.buckets) n += b.replacements.length;
    return n;
  }

  get bucketCount(): number {
    return this.buckets.length;
  }

  /** A node answered one of our queries: insert it, refresh it, or keep it as a replacement. */
  heard(contact: NodeContact): HeardOutcome {
    if (sameId(contact.id, this.ownId)) return 'rejected';
    const now = this.now();
    const key = addressKey(contact.host, contact.port);
    const hex = idToHex(contact.id);
    const atAddress = this.byAddress.get(key);
    if (atAddress && sameId(atAddress.id, contact.id)) {
      atAddress.lastResponse = now;
      atAddress.failures = 0;
      const bucket = this.bucketFor(atAddress.id);
      bucket.lastChanged = now;
      if (bucket.replacements.includes(atAddress)) return this.promoteIfRoom(bucket, atAddress) ? 'added' : 'updated';
      return 'updated';
    }
    // A known id answering from another address: keep the address we
    // verified first (libtorrent does the same), since ids are free to claim.
    if (this.byId.has(hex)) return 'rejected';
    // The address now answers with another id (a restart with a new id): the
    // old entry no longer describes anything.
    if (atAddress) this.remove(atAddress);

    const entry: Entry = { id: contact.id, host: contact.host, port: contact.port, key, lastResponse: now, lastQuery: 0, failures: 0 };
    for (;;) {
      const index = this.bucketIndex(entry.id);
      const bucket = this.buckets[index]!;
      if (bucket.nodes.length < this.k) {
        this.place(bucket.nodes, entry, bucket, now);
        return 'added';
      }
      const worst = this.worstBad(bucket.nodes);
      if (worst) {
        this.remove(worst);
        this.place(bucket.nodes, entry, bucket, now);
        return 'added';
      }
      if (this.canSplit(index, entry)) {
        this.split();
        continue;
      }
      return this.addReplacement(bucket, entry, now) ? 'replacement' : 'rejected';
    }
  }

  /** A node queried us. True when it is in the table (and now counts as good if it ever answered us). */
  queried(contact: NodeContact): boolean {
    const entry = this.byAddress.get(addressKey(contact.host, contact.port));
    if (!entry || !sameId(entry.id, contact.id)) return false;
    entry.lastQuery = this.now();
    return true;
  }

  /** One of our queries to this address went unanswered. A node that goes bad is replaced if it can be. */
  failed(host: string, port: number): void {
    const entry = this.byAddress.get(addressKey(host, port));
    if (!entry) return;
    entry.failures++;
    if (this.stateOf(entry) !== 'bad') return;
    const bucket = this.bucketFor(entry.id);
    if (bucket.replacements.includes(entry)) {
      this.remove(entry);
      return;
    }
    const spare = this.freshestReplacement(bucket);
    if (!spare) return; // a bad node is still better than a hole until something replaces it
    this.remove(entry);
    this.promoteIfRoom(bucket, spare);
  }

  /** Whether a verified node with this id would get a live slot (free, bad, or by a split). */
  wouldAccept(id: Uint8Array): boolean {
    if (sameId(id, this.ownId) || this.byId.has(idToHex(id))) return false;
    const index = this.bucketIndex(id);
    const bucket = this.buckets[index]!;
    if (bucket.nodes.length < this.k || this.worstBad(bucket.nodes)) return true;
    return this.canSplit(index, { id });
  }

  has(host: string, port: number): boolean {
    return this.byAddress.has(addressKey(host, port));
  }

  stateOf(entry: { lastResponse: number; lastQuery?: number; failures: number }): NodeState {
    if (entry.failures >= this.opts.badAfterFailures) return 'bad';
    const since = this.now() - this.opts.questionableAfterMs;
    if (entry.lastResponse > since) return 'good';
    if (entry.lastResponse > 0 && (entry.lastQuery ?? 0) > since) return 'good';
    return 'questionable';
  }

  /** The `n` live nodes closest to `target`, closest first; bad nodes are left out. */
  closest(target: Uint8Array, n: number): NodeContact[] {
    const all: Entry[] = [];
    for (const b of this.buckets) for (const e of b.nodes) if (this.stateOf(e) !== 'bad') all.push(e);
    all.sort((a, b) => compareDistance(a.id, b.id, target));
    return all.slice(0, n).map((e) => ({ id: e.id, host: e.host, port: e.port }));
  }

  /** Every live node, for saving and for stats. */
  entries(): RoutingEntry[] {
    const out: RoutingEntry[] = [];
    for (const b of this.buckets) {
      for (const e of b.nodes) {
        out.push({ id: e.id, host: e.host, port: e.port, state: this.stateOf(e), lastResponse: e.lastResponse, failures: e.failures });
      }
    }
    return out;
  }

  /** Up to `max` questionable live nodes, longest silent first: the ones to ping. */
  questionable(max: number): NodeContact[] {
    const found: Entry[] = [];
    for (const b of this.buckets) for (const e of b.nodes) if (this.stateOf(e) === 'questionable') found.push(e);
    found.sort((a, b) => a.lastResponse - b.lastResponse);
    return found.slice(0, max).map((e) => ({ id: e.id, host: e.host, port: e.port }));
  }

  /** A random target inside each bucket nothing happened in for `refreshAfterMs`: the lookups that refresh them. */
  refreshTargets(): Uint8Array[] {
    const stale = this.now() - this.opts.refreshAfterMs;
    const last = this.buckets.length - 1;
    const out: Uint8Array[] = [];
    this.buckets.forEach((b, i) => {
      if (b.lastChanged <= stale) out.push(randomIdWithPrefix(this.ownId, i, i !== last));
    });
    return out;
  }

  /** A lookup for `target` just ran: its bucket counts as refreshed. */
  touch(target: Uint8Array): void {
    this.bucketFor(target).lastChanged = this.now();
  }

  private bucketIndex(id: Uint8Array): number {
    return Math.min(commonPrefixLength(this.ownId, id), this.buckets.length - 1);
  }

  private bucketFor(id: Uint8Array): Bucket {
    return this.buckets[this.bucketIndex(id)]!;
  }

  private place(list: Entry[], entry: Entry, bucket: Bucket, now: number): void {
    list.push(entry);
    this.byAddress.set(entry.key, entry);
    this.byId.set(idToHex(entry.id), entry);
    bucket.lastChanged = now;
  }

  private remove(entry: Entry): void {
    const bucket = this.bucketFor(entry.id);
    for (const list of [bucket.nodes, bucket.replacements]) {
      const i = list.indexOf(entry);
      if (i >= 0) list.splice(i, 1);
    }
    this.byAddress.delete(entry.key);
    this.byId.delete(idToHex(entry.id));
  }

  private worstBad(nodes: Entry[]): Entry | undefined {
    let worst: Entry | undefined;
    for (const e of nodes) {
      if (this.stateOf(e) !== 'bad') continue;
      if (!worst || e.failures > worst.failures) worst = e;
    }
    return worst;
  }

  private freshestReplacement(bucket: Bucket): Entry | undefined {
    let best: Entry | undefined;
    for (const e of bucket.replacements) {
      if (this.stateOf(e) === 'bad') continue;
      if (!best || e.lastResponse > best.lastResponse) best = e;
    }
    return best;
  }

  /** Moves a replacement into the live list if there is room. */
  private promoteIfRoom(bucket: Bucket, entry: Entry): boolean {
    if (bucket.nodes.length >= this.k) return false;
    const i = bucket.replacements.indexOf(entry);
    if (i >= 0) bucket.replacements.splice(i, 1);
    bucket.nodes.push(entry);
    return true;
  }

  /** The replacement list keeps the k most recently heard nodes. */
  private addReplacement(bucket: Bucket, entry: Entry, now: number): boolean {
    if (bucket.replacements.length >= this.k) {
      let oldest = bucket.replacements[0]!;
      for (const e of bucket.replacements) if (e.lastResponse < oldest.lastResponse) oldest = e;
      if (oldest.lastResponse > entry.lastResponse) return false;
      this.remove(oldest);
    }
    this.place(bucket.replacements, entry, bucket, now);
    return true;
  }

  /**
   * Only the last bucket splits, up to one bucket per bit, and only when
   * some node (the newcomer included) would move to the new bucket: a split
   * that moves nothing would leave an empty bucket and a full one.
   */
  private canSplit(index: number, entry: { id: Uint8Array }): boolean {
    const last = this.buckets.length - 1;
    if (index !== last || this.buckets.length >= ID_BITS) return false;
    const deeper = (e: { id: Uint8Array }) => commonPrefixLength(this.ownId, e.id) > last;
    return deeper(entry) || this.buckets[last]!.nodes.some(deeper);
  }

  private split(): void {
    const last = this.buckets.length - 1;
    const old = this.buckets[last]!;
    const fresh: Bucket = { nodes: [], replacements: [], lastChanged: old.lastChanged };
    this.buckets.push(fresh);
    const moves = (e: Entry) => commonPrefixLength(this.ownId, e.id) > last;
    const staying = old.nodes.filter((e) => !moves(e));
    fresh.nodes = old.nodes.filter(moves);
    old.nodes = staying;
    const spares = old.replacements;
    old.replacements = [];
    // Replacements follow their ids; each lands live if its bucket has room now.
    for (const e of spares) {
      const b = moves(e) ? fresh : old;
      (b.nodes.length < this.k ? b.nodes : b.replacements).push(e);
    }
  }
}
