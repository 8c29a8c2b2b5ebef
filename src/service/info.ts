import type { InfoView } from '../domain';
import * as ids from '../store/catalog/identity';
import { grantsOf } from './authz';
import type { Principal, ServiceDeps } from './deps';
import { grantView } from './identity';

/** Who the caller is and what they may do. */
export async function info(deps: ServiceDeps, p: Principal): Promise<InfoView> {
  const user = (await ids.findUserByEmail(deps.catalog.db, p.email))!;
  return {
    version: deps.version,
    user: { id: user.id, email: user.email, name: user.name, is_admin: user.isAdmin, created_at: user.createdAt.toISOString() },
    temporal_namespace: deps.temporal.options.namespace,
    temporal_web_ui: deps.temporalUiUrl,
    grants: (await grantsOf(deps.catalog.db, p)).map(grantView),
  };
}
