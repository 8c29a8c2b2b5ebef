import { z } from 'zod';
import { CreateInstance, CreateOrg, CreateSpace, InstanceView, OrgView, SpaceView, TaskStarted } from '../../domain';
import type { ServiceDeps } from '../../service/deps';
import * as directory from '../../service/directory';
import type { HandoutApp } from '../server';

const OrgParams = z.object({ org: z.string() });
const SpaceParams = OrgParams.extend({ space: z.string() });

export function registerDirectoryRoutes(app: HandoutApp, deps: ServiceDeps): void {
  app.get('/orgs', { schema: { tags: ['orgs'], response: { 200: z.array(OrgView) } } }, (req) => directory.listOrgs(deps, req.principal));
  app.post('/orgs', { schema: { tags: ['orgs'], body: CreateOrg, response: { 201: OrgView } } }, async (req, reply) =>
    reply.status(201).send(await directory.createOrg(deps, req.principal, req.body)),
  );
  app.get('/orgs/:org/spaces', { schema: { tags: ['spaces'], params: OrgParams, response: { 200: z.array(SpaceView) } } }, (req) =>
    directory.listSpaces(deps, req.principal, req.params.org),
  );
  app.post('/orgs/:org/spaces', { schema: { tags: ['spaces'], params: OrgParams, body: CreateSpace, response: { 201: SpaceView } } }, async (req, reply) =>
    reply.status(201).send(await directory.createSpace(deps, req.principal, req.params.org, req.body)),
  );
  app.get('/orgs/:org/spaces/:space/instances', { schema: { tags: ['instances'], params: SpaceParams, response: { 200: z.array(InstanceView) } } }, (req) =>
    directory.listInstances(deps, req.principal, req.params.org, req.params.space),
  );
  app.post(
    '/orgs/:org/spaces/:space/instances',
    { schema: { tags: ['instances'], params: SpaceParams, body: CreateInstance, response: { 202: TaskStarted.extend({ instance_slug: z.string() }) } } },
    async (req, reply) => reply.status(202).send(await directory.startInstanceCreation(deps, req.principal, req.params.org, req.params.space, req.body)),
  );
}
