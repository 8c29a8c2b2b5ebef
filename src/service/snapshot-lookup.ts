import type { InstanceRef } from '../domain/context';
import type { InstanceAccess } from '../domain/roles';
import { CURRENT_STATE, type SnapshotView } from '../domain/snapshots';
import * as store from '../store/catalog/snapshots';
import type { Principal, ServiceDeps } from './deps';
import { invalidInput, notFound } from './errors';
import { openInstance, type OpenedInstance } from './instance-access';

export const snapshotView = (target: OpenedInstance, row: store.SnapshotRowWithCreator): SnapshotView => ({
  name: row.name,
  description: row.description,
  kind: row.kind,
  org_slug: target.org.slug,
  space_slug: target.space.slug,
  instance_slug: target.instance.slug,
  created_at: row.createdAt.toISOString(),
  created_by: row.createdByEmail,
  files: row.fileCount,
  bytes: row.byteCount,
  tables: row.tableCount,
  apps: row.appCount,
  object_sha256: row.objectSha256,
});

/** A committed snapshot of an instance the caller may read (or, with `need: 'editor'`, change). */
export async function resolveSnapshot(deps: ServiceDeps, p: Principal, ref: InstanceRef, name: string, need: InstanceAccess = 'viewer') {
  const target = await openInstance(deps, p, ref, need);
  if (name === CURRENT_STATE) throw invalidInput(`"${CURRENT_STATE}" is the current state, not a stored snapshot`);
  const row = await store.findSnapshot(deps.catalog.db, target.instance.id, name);
  if (!row) throw notFound(`snapshot "${name}" of ${target.subject.replace('instance:', 'instance ')}`);
  return { target, row };
}

