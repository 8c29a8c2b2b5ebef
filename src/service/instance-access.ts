import type { InstanceRef } from '../domain/context';
import type { InstanceAccess } from '../domain/roles';
import { instancePaths, type InstancePaths } from '../store/instance-storage';
import type { InstanceRow, OrgRow, SpaceRow } from '../store/catalog/directory';
import { grantsForSpace, requireInstanceAccess } from './authz';
import type { Principal, ServiceDeps } from './deps';
import { HandoutError } from './errors';
import { resolveInstance } from './directory';

/** An instance the caller may act on, with where its state lives. */
export interface OpenedInstance {
  org: OrgRow;
  space: SpaceRow;
  instance: InstanceRow;
  paths: InstancePaths;
  /** `instance:<org>/<space>/<slug>`, as the audit log names it. */
  subject: string;
}

/** Resolves an instance and checks the caller's role on it (viewer to read, editor to change). */
export async function openInstance(deps: ServiceDeps, p: Principal, ref: InstanceRef, need: InstanceAccess): Promise<OpenedInstance> {
  const db = deps.catalog.db;
  const { org, space, instance } = await resolveInstance(db, ref);
  const where = `instance "${org.slug}/${space.slug}/${instance.slug}"`;
  requireInstanceAccess(p, await grantsForSpace(db, p, space.id), space.id, instance.id, need, where);
  if (instance.status !== 'ready') throw new HandoutError('conflict', `${where} is still being provisioned; wait for its task to complete`);
  return { org, space, instance, paths: instancePaths(deps.dataDir, instance.id), subject: `instance:${org.slug}/${space.slug}/${instance.slug}` };
}
