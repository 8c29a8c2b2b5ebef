import { z } from 'zod';
import { AppView, CreateApp, UpdateApp } from '../../domain/apps';
import { CURRENT_STATE } from '../../domain/snapshots';
import * as apps from '../../service/apps';
import * as contents from '../../service/snapshot-contents';
import type { ServiceDeps } from '../../service/deps';
import type { HandoutApp } from '../server';
import { INSTANCE_PREFIX, InstanceParams, refOf, SnapshotQuery } from './instance-params';

const AppParams = InstanceParams.extend({ app: z.string() });

export function registerAppRoutes(app: HandoutApp, deps: ServiceDeps): void {
  app.get(`${INSTANCE_PREFIX}/apps`, { schema: { tags: ['apps'], params: InstanceParams, querystring: SnapshotQuery, response: { 200: z.array(AppView.partial({ created_at: true, updated_at: true })) } } }, (req) =>
    req.query.snapshot === CURRENT_STATE ? apps.listApps(deps, req.principal, refOf(req.params)) : contents.snapshotApps(deps, req.principal, refOf(req.params), req.query.snapshot),
  );
  app.post(`${INSTANCE_PREFIX}/apps`, { schema: { tags: ['apps'], params: InstanceParams, body: CreateApp, response: { 201: AppView } } }, async (req, reply) =>
    reply.status(201).send(await apps.createApp(deps, req.principal, refOf(req.params), req.body)),
  );
  app.post(`${INSTANCE_PREFIX}/apps/:app`, { schema: { tags: ['apps'], params: AppParams, body: UpdateApp, response: { 200: AppView } } }, (req) =>
    apps.updateApp(deps, req.principal, refOf(req.params), req.params.app, req.body),
  );
  app.delete(`${INSTANCE_PREFIX}/apps/:app`, { schema: { tags: ['apps'], params: AppParams, response: { 200: z.object({ deleted: z.string() }) } } }, (req) =>
    apps.deleteApp(deps, req.principal, refOf(req.params), req.params.app),
  );
}
