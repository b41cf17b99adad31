import type { KV, KvEntry, QueuedIterator } from 'nats';

/**
 * Every live entry of a JetStream key-value bucket, read at once.
 *
 * Listing the keys and then getting each one is a request per key: 2.5-3.5 s
 * for 10,000 torrents, which a control API's list pays every time. A watch
 * is one ordered consumer that streams the last value of every key: ~0.1 s
 * for the same bucket. nats.js says when the bucket as it stood has been
 * delivered (`initializedFn`), and the entries queued by then are the
 * snapshot. When that word does not come (the stream changed under the
 * watch, which nats.js documents as possible), the keys are read one by one
 * after all, a bounded number at a time.
 */
export async function kvSnapshot(kv: KV, timeoutMs = 5000): Promise<KvEntry[]> {
  const latest = new Map<string, KvEntry>();
  let initialized = false;
  const box: { it?: QueuedIterator<KvEntry> } = {};
  // Called either inside watch() (everything already queued) or in order
  // within the stream; either way, what is queued up to it is the bucket.
  // Stopping lets the iterator drain its queue, then end.
  const watch = await kv.watch({
    initializedFn: () => {
      initialized = true;
      box.it?.stop();
    },
  });
  box.it = watch;
  if (initialized) watch.stop();
  const timer = setTimeout(() => watch.stop(), timeoutMs);
  try {
    for await (const e of watch) latest.set(e.key, e);
  } finally {
    clearTimeout(timer);
  }
  if (!initialized) return readKeyByKey(kv);
  return [...latest.values()].filter((e) => e.operation === 'PUT');
}

/** The slow way: the keys, then each value, 32 requests in flight. */
async function readKeyByKey(kv: KV): Promise<KvEntry[]> {
  const keys: string[] = [];
  for await (const k of await kv.keys()) keys.push(k);
  const out: KvEntry[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const e = await kv.get(keys[next++]!).catch(() => null);
      if (e && e.operation === 'PUT') out.push(e);
    }
  };
  await Promise.all(Array.from({ length: Math.min(32, keys.length) }, worker));
  return out;
}
