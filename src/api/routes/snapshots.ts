import { z } from 'zod';
import { TaskStarted } from '../../domain/api';
import { InstanceRef } from '../../domain/context';
import { CreateSnapshot, SnapshotView } from '../../domain/snapshots';
import type { ServiceDeps } from '../../service/deps';
import * as snapshots from '../../service/snapshots';
import type { HandoutApp } from '../server';
import { INSTANCE_PREFIX, InstanceParams, refOf } from './instance-params';

const SnapshotParams = InstanceParams.extend({ snapshot: z.string() });
const RestoreBody = z
  .object({
    target: InstanceRef.optional(),
    files: z.array(z.string()).max(10_000).optional(),
    tables: z.array(z.string()).max(10_000).optional(),
    apps: z.array(z.string()).max(10_000).optional(),
  })
  .strict();

export function registerSnapshotRoutes(app: HandoutApp, deps: ServiceDeps): void {
  app.get(`${INSTANCE_PREFIX}/snapshots`, { schema: { tags: ['snapshots'], params: InstanceParams, response: { 200: z.array(SnapshotView) } } }, (req) =>
    snapshots.listSnapshots(deps, req.principal, refOf(req.params)),
  );
  app.post(`${INSTANCE_PREFIX}/snapshots`, { schema: { tags: ['snapshots'], params: InstanceParams, body: CreateSnapshot, response: { 202: TaskStarted } } }, async (req, reply) =>
    reply.status(202).send(await snapshots.createSnapshot(deps, req.principal, refOf(req.params), req.body)),
  );
  app.get(`${INSTANCE_PREFIX}/snapshots/:snapshot`, { schema: { tags: ['snapshots'], params: SnapshotParams, response: { 200: SnapshotView } } }, (req) =>
    snapshots.getSnapshot(deps, req.principal, refOf(req.params), req.params.snapshot),
  );
  app.delete(`${INSTANCE_PREFIX}/snapshots/:snapshot`, { schema: { tags: ['snapshots'], params: SnapshotParams, response: { 202: TaskStarted } } }, async (req, reply) =>
    reply.status(202).send(await snapshots.deleteSnapshot(deps, req.principal, refOf(req.params), req.params.snapshot)),
  );
  app.post(`${INSTANCE_PREFIX}/snapshots/:snapshot/restore`, { schema: { tags: ['snapshots'], params: SnapshotParams, body: RestoreBody, response: { 202: TaskStarted } } }, async (req, reply) =>
    reply.status(202).send(await snapshots.restoreSnapshot(deps, req.principal, refOf(req.params), req.params.snapshot, req.body)),
  );
}
