import type { FleetConfig } from '@seedbox/cluster';
import type { Logger } from '@seedbox/runtime';
import type { Engine } from '../engine.js';
import { EncryptionPolicyError, type EncryptionPolicy } from '../encryption/encryption-policy.js';

/**
 * The encryption policy a worker's engine follows in the fleet: the
 * config's, or this process's own (SEEDBOX_ENCRYPTION) while it has none;
 * connections made from then on follow it. A policy this process cannot
 * keep (RC4 without --openssl-legacy-provider) leaves the one in force and
 * is a warning: the config is the fleet's, and other workers may keep it.
 */
export class FleetEncryption {
  /** This process's SEEDBOX_ENCRYPTION: what the engine goes back to while the config sets none. */
  private readonly own: EncryptionPolicy;

  constructor(
    private readonly engine: Pick<Engine, 'encryption' | 'setEncryption'>,
    private readonly log: Logger,
  ) {
    this.own = engine.encryption;
  }

  /** The config as it is now (read at each change). */
  apply(c: FleetConfig): void {
    const policy = c.encryption ?? this.own;
    if (policy === this.engine.encryption) return;
    try {
      this.engine.setEncryption(policy);
      this.log.info('encryption policy changed', { encryption: policy, from: c.encryption !== undefined ? 'fleet config' : 'SEEDBOX_ENCRYPTION' });
    } catch (e) {
      if (!(e instanceof EncryptionPolicyError)) throw e;
      this.log.warn('the fleet config asks for an encryption policy this process cannot keep; keeping the one in force', { asked: policy, kept: this.engine.encryption, error: e });
    }
  }
}
