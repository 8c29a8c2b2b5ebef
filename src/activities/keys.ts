import { appendAuditEvent } from '../store/catalog/audit-log';
import { findKey } from '../store/catalog/identity';
import type { KeyExpiryInput } from '../workflows/key-expiry';
import type { ActivityDeps } from './deps';

export function createKeyActivities({ catalog }: ActivityDeps) {
  return {
    /**
     * Records that a key expired, unless it was revoked first (then the revocation is its last word).
     * Retry-safe: the audit event key is derived from the key id, so it is written at most once.
     */
    async recordKeyExpiry(input: KeyExpiryInput): Promise<boolean> {
      const found = await findKey(catalog.db, input.keyId);
      if (!found || (found.key.revokedAt && found.key.revokedAt.getTime() <= Date.parse(input.expiresAt))) return false;
      await appendAuditEvent(catalog.db, {
        event_key: `key-expiry/${input.keyId}`,
        actor: 'system',
        action: 'key.expired',
        subject: `key:${input.keyId}`,
        details: { user: input.userEmail, expires_at: input.expiresAt },
      });
      return true;
    },
  };
}
