import { bencodeValue, jsonValue } from './generate.js';
import { INTERESTING_BYTES } from './mutate.js';
import type { Rng } from './rng.js';

/**
 * Mutations that know the format: a seed is parsed into a tree, one node
 * is changed (a value replaced by another of any type, an entry dropped,
 * duplicated or added with a known key, an integer set to a boundary),
 * and the tree is written back. Byte mutations mostly break the syntax,
 * so a decoder's first check refuses them; these keep the syntax and so
 * reach the rules behind it (a `piece` past the end, `peers` of 7 bytes,
 * `ids` that are objects...).
 *
 * The bencode reader here is the harness's own, small and lenient (it
 * reads unsorted and duplicate keys), so that a bug in the decoder under
 * test cannot hide cases from it.
 */

type BNode = { t: 'i'; v: string } | { t: 's'; v: Uint8Array } | { t: 'l'; v: BNode[] } | { t: 'd'; v: [Uint8Array, BNode][] };

function readNode(buf: Uint8Array, at: { pos: number }, depth: number): BNode | undefined {
  if (depth > 64 || at.pos >= buf.length) return undefined;
  const c = buf[at.pos]!;
  if (c === 0x69) {
    const end = buf.indexOf(0x65, at.pos);
    if (end < 0) return undefined;
    const v = Buffer.from(buf.subarray(at.pos + 1, end)).toString('latin1');
    at.pos = end + 1;
    return { t: 'i', v };
  }
  if (c >= 0x30 && c <= 0x39) {
    const colon = buf.indexOf(0x3a, at.pos);
    if (colon < 0 || colon - at.pos > 9) return undefined;
    const n = Number(Buffer.from(buf.subarray(at.pos, colon)).toString('latin1'));
    if (!Number.isInteger(n) || colon + 1 + n > buf.length) return undefined;
    at.pos = colon + 1 + n;
    return { t: 's', v: buf.subarray(colon + 1, colon + 1 + n) };
  }
  if (c === 0x6c || c === 0x64) {
    at.pos++;
    const items: BNode[] = [];
    while (at.pos < buf.length && buf[at.pos] !== 0x65) {
      const item = readNode(buf, at, depth + 1);
      if (!item) return undefined;
      items.push(item);
    }
    if (at.pos >= buf.length) return undefined;
    at.pos++;
    if (c === 0x6c) return { t: 'l', v: items };
    const entries: [Uint8Array, BNode][] = [];
    for (let i = 0; i + 1 < items.length; i += 2) {
      const k = items[i]!;
      if (k.t !== 's') return undefined;
      entries.push([k.v, items[i + 1]!]);
    }
    return { t: 'd', v: entries };
  }
  return undefined;
}

function writeNode(n: BNode, out: Buffer[]): void {
  switch (n.t) {
    case 'i':
      out.push(Buffer.from(`i${n.v}e`, 'latin1'));
      return;
    case 's':
      out.push(Buffer.from(`${n.v.length}:`, 'latin1'), Buffer.from(n.v));
      return;
    case 'l':
      out.push(Buffer.from('l'));
      for (const x of n.v) writeNode(x, out);
      out.push(Buffer.from('e'));
      return;
    case 'd':
      out.push(Buffer.from('d'));
      for (const [k, v] of n.v) {
        out.push(Buffer.from(`${k.length}:`, 'latin1'), Buffer.from(k));
        writeNode(v, out);
      }
      out.push(Buffer.from('e'));
      return;
  }
}

/** Every node with a way to replace it in its parent; the root (no parent) is replaced by the caller. */
function collect(root: BNode): { node: BNode; set: (n: BNode) => void; parent?: BNode }[] {
  const out: { node: BNode; set: (n: BNode) => void; parent?: BNode }[] = [{ node: root, set: () => undefined }];
  const walk = (n: BNode) => {
    if (out.length > 4096) return;
    if (n.t === 'l') {
      n.v.forEach((x, i) => {
        out.push({ node: x, set: (y) => (n.v[i] = y), parent: n });
        walk(x);
      });
    }
    if (n.t === 'd') {
      n.v.forEach((e, i) => {
        out.push({ node: e[1], set: (y) => (n.v[i] = [e[0], y]), parent: n });
        walk(e[1]);
      });
    }
  };
  walk(root);
  return out;
}

const BOUNDARY_INTS = ['0', '-1', '1', '-0', '01', '', '255', '256', '16383', '16384', '16385', '65535', '65536', '2147483647', '2147483648', '4294967295', '4294967296', '9007199254740991', '9007199254740992', '-9007199254740993', '99999999999999999999', '1.5'];

function parseBencode(input: Uint8Array): { root: BNode; rest: Uint8Array } | undefined {
  const at = { pos: 0 };
  const root = readNode(input, at, 0);
  return root ? { root, rest: input.subarray(at.pos) } : undefined;
}

/** One structural change to a bencoded seed (and the bytes after it, kept); undefined when the seed does not start with bencode. */
export function mutateBencode(input: Uint8Array, rng: Rng, keys: readonly string[]): Uint8Array | undefined {
  const parsed = parseBencode(input);
  if (!parsed) return undefined;
  let root = parsed.root;
  const rounds = 1 + rng.below(3);
  for (let r = 0; r < rounds; r++) {
    // Collected again each round: the last round may have moved or removed entries.
    const pick = rng.pick(collect(root));
    const fresh = (): BNode => parseBencode(Buffer.from(bencodeValue(rng, keys, 3), 'latin1'))?.root ?? { t: 'i', v: '0' };
    let replacement: BNode | undefined;
    const node = pick.node;
    switch (rng.below(8)) {
      case 0:
        replacement = fresh();
        break;
      case 1:
        replacement = { t: 'i', v: rng.pick(BOUNDARY_INTS) };
        break;
      case 2:
        if (node.t === 's') {
          const v = Uint8Array.from(node.v);
          const len = rng.pick([0, 1, v.length - 1, v.length + 1, v.length * 2, 6, 18, 20, 7]);
          const out = new Uint8Array(Math.max(0, len));
          out.set(v.subarray(0, out.length));
          for (let i = v.length; i < out.length; i++) out[i] = rng.pick(INTERESTING_BYTES);
          replacement = { t: 's', v: out };
        } else replacement = { t: 's', v: Buffer.from(rng.pick(keys), 'latin1') };
        break;
      case 3:
        replacement = { t: 'l', v: [node] };
        break;
      case 4:
        if (node.t === 'd' && node.v.length > 0) node.v.splice(rng.below(node.v.length), 1);
        else if (node.t === 'l' && node.v.length > 0) node.v.splice(rng.below(node.v.length), 1);
        break;
      case 5:
        if (node.t === 'd') node.v.splice(rng.below(node.v.length + 1), 0, [Buffer.from(rng.pick(keys), 'latin1'), fresh()]);
        else if (node.t === 'l') node.v.splice(rng.below(node.v.length + 1), 0, fresh());
        break;
      case 6:
        // A duplicate entry, or a list item repeated: "the last one wins" and item caps.
        if (node.t === 'd' && node.v.length > 0) node.v.push(node.v[rng.below(node.v.length)]!);
        else if (node.t === 'l' && node.v.length > 0) for (let i = rng.size(10); i > 0; i--) node.v.push(node.v[0]!);
        break;
      default:
        if (node.t === 'd' && node.v.length > 1) node.v.reverse();
        else replacement = { t: 'd', v: [[Buffer.from(rng.pick(keys), 'latin1'), node]] };
    }
    if (replacement) {
      if (pick.parent) pick.set(replacement);
      else root = replacement;
    }
  }
  const out: Buffer[] = [];
  writeNode(root, out);
  out.push(Buffer.from(parsed.rest));
  return new Uint8Array(Buffer.concat(out));
}

/** One structural change to a JSON seed; undefined when the seed is not JSON. */
export function mutateJson(input: Uint8Array, rng: Rng, keys: readonly string[]): Uint8Array | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(input).toString('utf8'));
  } catch {
    return undefined;
  }
  const box = { value };
  const slotsOf = () => {
    const slots: { get: () => unknown; set: (v: unknown) => void }[] = [{ get: () => box.value, set: (v) => (box.value = v) }];
    const walk = (v: unknown, depth: number) => {
      if (depth > 8 || v === null || typeof v !== 'object' || slots.length > 4096) return;
      if (Array.isArray(v)) {
        v.forEach((x, i) => {
          slots.push({ get: () => v[i], set: (y) => (v[i] = y) });
          walk(x, depth + 1);
        });
      }
      else {
        const o = v as Record<string, unknown>;
        for (const k of Object.keys(o)) {
          slots.push({ get: () => o[k], set: (y) => (o[k] = y) });
          walk(o[k], depth + 1);
        }
      }
    };
    walk(box.value, 0);
    return slots;
  };
  for (let r = 1 + rng.below(3); r > 0; r--) {
    const s = rng.pick(slotsOf());
    const current = s.get();
    switch (rng.below(6)) {
      case 0:
        s.set(jsonValue(rng, keys, 2));
        break;
      case 1:
        s.set(Array.isArray(current) ? current[0] : [current]);
        break;
      case 2:
        s.set(typeof current === 'number' ? rng.pick([-1, 0, 0.5, 2 ** 53, -(2 ** 31), 1e308, NaN]) : typeof current === 'string' ? `${current}${rng.pick(['|', ',', '0', 'x', ''])}` : String(current));
        break;
      case 3:
        if (current && typeof current === 'object' && !Array.isArray(current)) (current as Record<string, unknown>)[rng.pick(keys)] = jsonValue(rng, keys, 2);
        else s.set(jsonValue(rng, keys, 3));
        break;
      case 4:
        if (Array.isArray(current)) for (let i = rng.size(8); i > 0; i--) current.push(current[0] ?? i);
        else s.set(null);
        break;
      default:
        if (current && typeof current === 'object' && !Array.isArray(current)) {
          const ks = Object.keys(current);
          if (ks.length > 0) delete (current as Record<string, unknown>)[rng.pick(ks)];
        } else s.set(undefined);
    }
  }
  return new Uint8Array(Buffer.from(JSON.stringify(box.value) ?? 'null', 'utf8'));
}

/**
 * One change to the parameters of a raw HTTP request (its query, or its
 * urlencoded body): a value replaced, a parameter dropped, repeated or
 * added. Undefined when the seed has neither.
 */
export function mutateRequestParams(input: Uint8Array, rng: Rng, names: readonly string[], values: readonly string[]): Uint8Array | undefined {
  const buf = Buffer.from(input);
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = buf.subarray(0, end).toString('latin1');
  const body = buf.subarray(end + 4);
  const lineEnd = head.indexOf('\r\n');
  const requestLine = lineEnd < 0 ? head : head.slice(0, lineEnd);
  const m = /^(\S+) ([^?\s]*)(?:\?(\S*))?( HTTP\/1\.1)?$/.exec(requestLine);
  if (!m) return undefined;
  const urlencodedBody = /content-type: application\/x-www-form-urlencoded/i.test(head) && body.length > 0;
  const inBody = urlencodedBody && (m[3] === undefined || rng.chance(0.7));
  const params = new URLSearchParams(inBody ? body.toString('utf8') : (m[3] ?? ''));
  const entries = [...params.entries()];
  for (let r = 1 + rng.below(2); r > 0; r--) {
    const i = rng.below(entries.length + 1);
    const value = rng.chance(0.8) ? rng.pick(values) : Buffer.from(rng.bytes(rng.size(5))).toString('latin1');
    switch (rng.below(4)) {
      case 0:
        if (entries[i]) entries[i] = [entries[i]![0], value];
        else entries.push([rng.pick(names), value]);
        break;
      case 1:
        entries.splice(i, 1);
        break;
      case 2:
        if (entries[i]) entries.push(entries[i]!);
        break;
      default:
        entries.splice(i, 0, [rng.pick(names), value]);
    }
  }
  const text = new URLSearchParams(entries).toString();
  const target = inBody ? `${m[2]}${m[3] === undefined ? '' : `?${m[3]}`}` : `${m[2]}?${text}`;
  const newHead = `${m[1]} ${target}${m[4] ?? ''}${lineEnd < 0 ? '' : head.slice(lineEnd)}`;
  return new Uint8Array(Buffer.concat([Buffer.from(`${newHead}\r\n\r\n`, 'latin1'), inBody ? Buffer.from(text, 'utf8') : body]));
}
