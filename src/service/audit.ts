import { AuditFilter, type AuditEvent, type AuditVerifyResult } from '../domain/audit';
import { listAuditEvents, verifyAuditChain } from '../store/catalog/audit-log';
import { requireAdmin } from './authz';
import type { Principal, ServiceDeps } from './deps';

// The audit log spans every space, so reading and verifying it is an admin's job.

export async function listAudit(deps: ServiceDeps, p: Principal, filter: AuditFilter): Promise<AuditEvent[]> {
  requireAdmin(p, 'reading the audit log');
  return listAuditEvents(deps.catalog.db, AuditFilter.parse(filter));
}

export async function verifyAudit(deps: ServiceDeps, p: Principal): Promise<AuditVerifyResult> {
  requireAdmin(p, 'verifying the audit log');
  return verifyAuditChain(deps.catalog.db);
}
