import { ENCRYPTION_MODES, type EncryptionMode } from '@seedbox/cluster/torrent-settings';
import { CRYPTO_PLAINTEXT, CRYPTO_RC4, rc4Available, type CryptoMethod } from '@seedbox/protocol';

/**
 * Message stream encryption (MSE/PE) as a process uses it, with the three
 * policies of libtorrent, qBittorrent and Transmission:
 *
 * - `prefer` (the default): dial with the encrypted handshake, offering
 *   RC4 and plaintext; a peer that does not answer it is dialled again in
 *   plain text. Accept both kinds. As a responder, pick plaintext when the
 *   peer offers it, as libtorrent does by default (the handshake still
 *   hides what the connection is; the data then costs no cipher).
 * - `require`: encrypted handshakes only, both ways, and RC4 for the whole
 *   stream (qBittorrent's "Require encryption").
 * - `disable`: plain handshakes only; an encrypted one is refused.
 *
 * The names are the fleet config's (@seedbox/cluster's EncryptionMode), so
 * the APIs that set it and the engine that keeps it share one definition.
 */
export type EncryptionPolicy = EncryptionMode;
export const ENCRYPTION_POLICIES = ENCRYPTION_MODES;

/** What we offer when we dial with the encrypted handshake; undefined: dial plain. */
export function outgoingMethods(policy: EncryptionPolicy): readonly CryptoMethod[] | undefined {
  if (policy === 'disable') return undefined;
  return policy === 'require' ? ['rc4'] : ['rc4', 'plaintext'];
}

/** The method we pick from those an initiator offers (bits), or undefined to refuse. */
export function selectMethod(policy: EncryptionPolicy, provided: number): CryptoMethod | undefined {
  if (policy === 'prefer' && provided & CRYPTO_PLAINTEXT) return 'plaintext';
  if (policy !== 'disable' && provided & CRYPTO_RC4) return 'rc4';
  return undefined;
}

/** The engine was asked for an encryption policy it cannot keep. */
export class EncryptionPolicyError extends Error {
  override name = 'EncryptionPolicyError';
}

/** Throws an EncryptionPolicyError for an unknown policy, or one that needs RC4 where this Node has none. */
export function checkEncryptionPolicy(policy: EncryptionPolicy): void {
  if (!ENCRYPTION_POLICIES.includes(policy)) throw new EncryptionPolicyError(`encryption must be one of ${ENCRYPTION_POLICIES.join(', ')}, not ${JSON.stringify(policy)}`);
  if (policy !== 'disable' && !rc4Available()) {
    throw new EncryptionPolicyError(`${policy} needs RC4, which Node has only when started with --openssl-legacy-provider (NODE_OPTIONS=--openssl-legacy-provider); or disable encryption`);
  }
}
