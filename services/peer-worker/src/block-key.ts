/**
 * One key scheme for block requests in both directions (ours to the peer,
 * the peer's to us): a request is (piece, begin) packed into one number.
 * Pieces are at most 1 GiB (the metainfo parser's bound), so `begin` fits
 * in 30 bits, and piece indices up to 2^23 keep the key below 2^53, exact
 * in a double. A number key costs no string per request on the hot path.
 */
const BEGIN_SPAN = 2 ** 30;

export interface BlockRef {
  index: number;
  begin: number;
}

export function blockKey(index: number, begin: number): number {
  return index * BEGIN_SPAN + begin;
}

export function fromBlockKey(key: number): BlockRef {
  const index = Math.floor(key / BEGIN_SPAN);
  return { index, begin: key - index * BEGIN_SPAN };
}
