import { z } from 'zod';
import { AppView, CreateApp, UpdateApp } from '../../domain/apps';
import * as apps from '../../service/apps';
import type { ServiceDeps } from '../../service/deps';
import type { HandoutApp } from '../server';
import { INSTANCE_PREFIX, InstanceParams, refOf } from './instance-params';

const AppParams = InstanceParams.extend({ app: z.string() });

export function registerAppRoutes(app: HandoutApp, deps: ServiceDeps): void {
  app.get(`${INSTANCE_PREFIX}/apps`, { schema: { tags: ['apps'], params: InstanceParams, response: { 200: z.array(AppView) } } }, (req) =>
    apps.listApps(deps, req.principal, refOf(req.params)),
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
