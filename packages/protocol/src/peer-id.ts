/**
 * Which client a peer id names (BEP 20), for the lists of connected peers
 * that qBittorrent and Transmission show. Pure; a peer id is 20 bytes the
 * peer chose, so nothing here trusts it beyond reading printable ASCII.
 *
 * Two conventions cover nearly every client in use:
 *
 * - Azureus style, `-XXvvvv-`: two characters naming the client, four of
 *   version. Each version character is a digit, or a letter for 10 and up
 *   (Deluge's `-DE13F0-` is 1.3.15), so the version reads a.b.c, with a
 *   fourth part only when it is not 0.
 * - Mainline style, `M4-3-6--`: a letter, then dash-separated numbers.
 *
 * Anything else (Shadow's style, random ids) is not guessed at: the answer
 * is undefined, and the caller shows what it has instead.
 */

/** Azureus-style codes of the clients one meets, by the names their authors use. */
const AZUREUS: Readonly<Record<string, string>> = {
  '7T': 'aTorrent',
  AG: 'Ares',
  AZ: 'Vuze',
  BC: 'BitComet',
  BF: 'Bitflu',
  BI: 'BiglyBT',
  BT: 'BitTorrent',
  CD: 'Enhanced CTorrent',
  CT: 'CTorrent',
  DE: 'Deluge',
  FD: 'Free Download Manager',
  FW: 'FrostWire',
  FX: 'Freebox BitTorrent',
  HL: 'Halite',
  KG: 'KGet',
  KT: 'KTorrent',
  LC: 'LeechCraft',
  LP: 'Lphant',
  LT: 'libtorrent (Rasterbar)',
  lt: 'libTorrent (Rakshasa)',
  LW: 'LimeWire',
  MO: 'MonoTorrent',
  PI: 'PicoTorrent',
  qB: 'qBittorrent',
  QD: 'QQDownload',
  SB: 'seedbox',
  SD: 'Thunder',
  SZ: 'Shareaza',
  TB: 'Torch',
  TL: 'Tribler',
  TR: 'Transmission',
  UM: 'µTorrent Mac',
  UT: 'µTorrent',
  UW: 'µTorrent Web',
  WD: 'WebTorrent Desktop',
  WW: 'WebTorrent',
  XL: 'Xunlei',
};

const MAINLINE = /^M(\d{1,2})-(\d{1,2})-(\d{1,2})-/;
const PRINTABLE = /^[\x21-\x7e]+$/;

/** One Azureus version character: 0-9, then A-Z and a-z for 10 and up; undefined for anything else. */
function versionDigit(c: string): number | undefined {
  if (c >= '0' && c <= '9') return c.charCodeAt(0) - 48;
  if (c >= 'A' && c <= 'Z') return c.charCodeAt(0) - 55;
  if (c >= 'a' && c <= 'z') return c.charCodeAt(0) - 61;
  return undefined;
}

/**
 * The client and version a peer id names, e.g. "libtorrent (Rasterbar)
 * 2.0.8" for `-LT2080-…`; an unknown Azureus code keeps its two
 * characters ("ZZ 1.2.3"). Undefined when the id follows no convention
 * (or is not 20 bytes).
 */
export function clientFromPeerId(peerId: Uint8Array): string | undefined {
  if (peerId.length !== 20) return undefined;
  const head = Buffer.from(peerId.subarray(0, 8)).toString('latin1');
  if (head[0] === '-' && head[7] === '-') {
    const code = head.slice(1, 3);
    const digits = [...head.slice(3, 7)].map(versionDigit);
    if (!PRINTABLE.test(code) || digits.some((d) => d === undefined)) return undefined;
    const [a, b, c, d] = digits as number[];
    const version = d === 0 ? `${a}.${b}.${c}` : `${a}.${b}.${c}.${d}`;
    return `${AZUREUS[code] ?? code} ${version}`;
  }
  const mainline = MAINLINE.exec(head);
  if (mainline) return `BitTorrent ${mainline[1]}.${mainline[2]}.${mainline[3]}`;
  return undefined;
}
