import type { AuditAppend, AuditEvent } from '../domain/audit';
import { appendAuditEvent } from '../store/catalog/audit-log';
import type { ActivityDeps } from './deps';

export function createAuditActivities({ catalog }: ActivityDeps) {
  return {
    /** Appends an audit event. Retry-safe: the event key is unique, a retry returns the first event. */
    async appendAudit(input: AuditAppend): Promise<AuditEvent> {
      return appendAuditEvent(catalog.db, input);
    },
  };
}
