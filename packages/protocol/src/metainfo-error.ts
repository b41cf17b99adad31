import { ProtocolError } from './errors.js';

/** The error parseMetainfo and parseInfoDictionary throw, and nothing else, for any input. */

export type MetainfoErrorCode =
  /** Not valid bencode; `cause` is the BencodeError with the byte offset. */
  | 'METAINFO_BENCODE'
  /** The file, or its list of files, is over the limits given to parseMetainfo. */
  | 'METAINFO_TOO_LARGE'
  /** The top level is not a dictionary. */
  | 'METAINFO_NOT_A_DICT'
  | 'METAINFO_MISSING_KEY'
  | 'METAINFO_WRONG_TYPE'
  /** `piece length` is not in 1..2^30. */
  | 'METAINFO_BAD_PIECE_LENGTH'
  /** `pieces` is not a whole number of 20-byte SHA-1 hashes. */
  | 'METAINFO_BAD_PIECES_LENGTH'
  /** The number of hashes is not ceil(total length / piece length). */
  | 'METAINFO_PIECE_COUNT_MISMATCH'
  /** A file length is negative, or the lengths add up past 2^53. */
  | 'METAINFO_BAD_LENGTH'
  /** A name or path segment is empty, '.', '..', absolute, or has '/', '\\' or NUL. */
  | 'METAINFO_BAD_PATH'
  /** `info` has both `length` (single file) and `files` (multi-file). */
  | 'METAINFO_BOTH_LENGTH_AND_FILES'
  /** `info.files` is an empty list. */
  | 'METAINFO_NO_FILES'
  /** Every file is empty: there is nothing to download and no piece to check. */
  | 'METAINFO_NO_DATA';

export class MetainfoError extends ProtocolError {
  override name = 'MetainfoError';
  declare readonly code: MetainfoErrorCode;
  /** The key path that broke the rule, e.g. `info.files[3].path[1]`; absent for whole-file problems. */
  readonly field: string | undefined;

  constructor(code: MetainfoErrorCode, message: string, field?: string, options?: { cause?: unknown }) {
    super(code, field === undefined ? message : `${field}: ${message}`, options);
    this.field = field;
  }
}
