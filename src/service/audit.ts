import { AuditFilter, type AuditEvent, type AuditVerifyResult } from '../domain/audit';
import { listAuditEvents, verifyAuditChain } from '../store/catalog/audit-log';
import { grantsOf, requireAdmin, requireSpaceAdmin } from './authz';
import type { Principal, ServiceDeps } from './deps';
import { resolveSpace } from './directory';
import { forbidden } from './errors';

// The audit log spans every space: admins read and verify all of it. A space admin may read the
// story of one subject in their own space (`--subject assignment:<org>/<space>/<slug>`, an instance
// `instance:<org>/<space>/<slug>` or the space itself), e.g. an instructor following an assignment.

const SPACE_SUBJECT = /^(?:assignment|instance):([^/]+)\/([^/]+)\/[^/]+$|^space:([^/]+)\/([^/]+)$/;

export async function listAudit(deps: ServiceDeps, p: Principal, filter: AuditFilter): Promise<AuditEvent[]> {
  const parsed = AuditFilter.parse(filter);
  if (!p.isAdmin) {
    const m = parsed.subject ? SPACE_SUBJECT.exec(parsed.subject) : null;
    if (!m) throw forbidden(`reading the audit log needs the admin role; a space admin may read one subject of their space (--subject assignment:<org>/<space>/<slug>); ${p.email} is not an admin`);
    const [org, space] = m[1] ? [m[1], m[2]!] : [m[3]!, m[4]!];
    const { space: row } = await resolveSpace(deps.catalog.db, org, space);
    requireSpaceAdmin(p, await grantsOf(deps.catalog.db, p), row.id, `reading the audit log of ${parsed.subject}`, `space "${org}/${space}"`);
  }
  return listAuditEvents(deps.catalog.db, parsed);
}

export async function verifyAudit(deps: ServiceDeps, p: Principal): Promise<AuditVerifyResult> {
  requireAdmin(p, 'verifying the audit log');
  return verifyAuditChain(deps.catalog.db);
}
