import { z } from 'zod';
import { AuditEvent, AuditFilter, AuditVerifyResult } from '../../domain';
import * as audit from '../../service/audit';
import type { ServiceDeps } from '../../service/deps';
import type { HandoutApp } from '../server';

export function registerAuditRoutes(app: HandoutApp, deps: ServiceDeps): void {
  app.get('/audit', { schema: { tags: ['audit'], querystring: AuditFilter, response: { 200: z.array(AuditEvent) } } }, (req) =>
    audit.listAudit(deps, req.principal, req.query),
  );
  app.get('/audit/verify', { schema: { tags: ['audit'], response: { 200: AuditVerifyResult } } }, (req) => audit.verifyAudit(deps, req.principal));
}
