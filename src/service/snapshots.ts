import { randomUUID } from 'node:crypto';
import type { InstanceRef } from '../domain/context';
import { CreateSnapshot, type SnapshotView } from '../domain/snapshots';
import type { TaskStarted } from '../domain/api';
import { appendAuditEvent } from '../store/catalog/audit-log';
import type { CatalogDb } from '../store/catalog/db';
import * as store from '../store/catalog/snapshots';
import type { RestoreInput, SnapshotInput } from '../workflows';
import { actorOf, type Principal, type ServiceDeps } from './deps';
import { conflict } from './errors';
import { openInstance } from './instance-access';
import { resolveSnapshot, snapshotView } from './snapshot-lookup';
import { validateSelection, type SelectionRequest } from './snapshot-contents';
import { startTask } from './tasks';

// Snapshots: immutable records of an instance's state. Create, restore and the blob garbage
// collection after a delete run as tasks; nothing here ever changes a committed snapshot.

export async function listSnapshots(deps: ServiceDeps, p: Principal, ref: InstanceRef): Promise<SnapshotView[]> {
  const target = await openInstance(deps, p, ref, 'viewer');
  return (await store.listSnapshots(deps.catalog.db, target.instance.id)).map((row) => snapshotView(target, row));
}

export async function getSnapshot(deps: ServiceDeps, p: Principal, ref: InstanceRef, name: string): Promise<SnapshotView> {
  const { target, row } = await resolveSnapshot(deps, p, ref, name);
  return snapshotView(target, row);
}

/** Starts `snapshots create`; a duplicate name is refused before anything runs. */
export async function createSnapshot(deps: ServiceDeps, p: Principal, ref: InstanceRef, body: CreateSnapshot): Promise<TaskStarted> {
  const input = CreateSnapshot.parse(body);
  const target = await openInstance(deps, p, ref, 'editor');
  if (await store.findSnapshot(deps.catalog.db, target.instance.id, input.name)) {
    throw conflict(`a snapshot named "${input.name}" already exists in ${target.subject.replace('instance:', 'instance ')}`);
  }
  const snapshotId = randomUUID();
  const args: SnapshotInput = {
    snapshotId,
    instanceId: target.instance.id,
    name: input.name,
    description: input.description ?? '',
    kind: 'user',
    createdBy: p.userId,
    actor: actorOf(p),
    subject: target.subject,
    ...(input.email ? { notifyEmail: p.email } : {}),
  };
  const taskId = `snapshot-${snapshotId}`;
  // The files are captured from now on; the workflow's first step takes the capture over (capture-head-starts.ts).
  deps.captureHeadStart?.begin(taskId, target.instance.id);
  try {
    return await startTask(deps, p, { kind: 'snapshot.create', taskId, subject: target.subject, spaceId: target.space.id, workflowType: 'snapshotWorkflow', args: [args] });
  } catch (err) {
    deps.captureHeadStart?.abandon(taskId);
    throw err;
  }
}

/** Deletes a snapshot (irreversible) and starts the garbage collection that frees its unshared blobs. */
export async function deleteSnapshot(deps: ServiceDeps, p: Principal, ref: InstanceRef, name: string): Promise<TaskStarted> {
  const { target, row } = await resolveSnapshot(deps, p, ref, name, 'editor');
  await deps.catalog.db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as CatalogDb;
    await store.deleteSnapshot(tx, row.id);
    await appendAuditEvent(tx, {
      event_key: `api/${randomUUID()}`,
      actor: actorOf(p),
      action: 'snapshot.deleted',
      subject: target.subject,
      details: { snapshot: row.name, kind: row.kind },
      content_hashes: { snapshot: row.objectSha256 },
    });
  });
  return startTask(deps, p, {
    kind: 'snapshot.gc',
    taskId: `blob-gc-${randomUUID()}`,
    subject: target.subject,
    spaceId: target.space.id,
    workflowType: 'blobGarbageWorkflow',
    args: [{ graceMs: deps.blobGcGraceMs }],
  });
}

export interface RestoreRequest extends SelectionRequest {
  target?: InstanceRef;
}

/** Starts `snapshots restore`: viewer on the snapshot's instance, editor on the target; the selection must exist. */
export async function restoreSnapshot(deps: ServiceDeps, p: Principal, ref: InstanceRef, name: string, body: RestoreRequest): Promise<TaskStarted> {
  const { target: source, row } = await resolveSnapshot(deps, p, ref, name);
  const target = await openInstance(deps, p, body.target ?? ref, 'editor');
  const selection = await validateSelection(deps, row.objectSha256, name, body);
  const safetyId = randomUUID();
  const args: RestoreInput = {
    objectSha256: row.objectSha256,
    snapshotName: row.name,
    sourceSubject: source.subject,
    targetInstanceId: target.instance.id,
    targetSubject: target.subject,
    selection,
    safety: { snapshotId: safetyId, name: `safety-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}-${safetyId.slice(0, 8)}` },
    actor: actorOf(p),
    createdBy: p.userId,
  };
  return startTask(deps, p, { kind: 'snapshot.restore', taskId: `restore-${randomUUID()}`, subject: target.subject, spaceId: target.space.id, workflowType: 'restoreWorkflow', args: [args] });
}
