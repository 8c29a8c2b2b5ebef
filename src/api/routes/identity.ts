import { z } from 'zod';
import { CreatedKey, CreateKey, CreateUser, GrantFilter, GrantRequest, GrantView, InfoView, KeyView, UserView } from '../../domain';
import type { ServiceDeps } from '../../service/deps';
import * as identity from '../../service/identity';
import { info } from '../../service/info';
import type { HandoutApp } from '../server';

export function registerIdentityRoutes(app: HandoutApp, deps: ServiceDeps): void {
  app.get('/info', { schema: { tags: ['identity'], response: { 200: InfoView } } }, (req) => info(deps, req.principal));
  app.get('/users', { schema: { tags: ['identity'], response: { 200: z.array(UserView) } } }, (req) => identity.listUsers(deps, req.principal));
  app.post('/users', { schema: { tags: ['identity'], body: CreateUser, response: { 201: UserView } } }, async (req, reply) =>
    reply.status(201).send(await identity.createUser(deps, req.principal, req.body)),
  );
  app.get('/keys', { schema: { tags: ['identity'], response: { 200: z.array(KeyView) } } }, (req) => identity.listKeys(deps, req.principal));
  app.post('/keys', { schema: { tags: ['identity'], body: CreateKey, response: { 201: CreatedKey } } }, async (req, reply) =>
    reply.status(201).send(await identity.createKey(deps, req.principal, req.body)),
  );
  app.post('/keys/:id/revoke', { schema: { tags: ['identity'], params: z.object({ id: z.string() }), response: { 200: KeyView } } }, (req) =>
    identity.revokeKey(deps, req.principal, req.params.id),
  );
  app.get('/roles', { schema: { tags: ['roles'], querystring: GrantFilter, response: { 200: z.array(GrantView) } } }, (req) =>
    identity.listGrants(deps, req.principal, req.query),
  );
  app.post('/roles', { schema: { tags: ['roles'], body: GrantRequest, response: { 201: GrantView } } }, async (req, reply) =>
    reply.status(201).send(await identity.grantRole(deps, req.principal, req.body)),
  );
  app.post('/roles/revoke', { schema: { tags: ['roles'], body: GrantRequest, response: { 200: z.object({ revoked: z.literal(true) }) } } }, (req) =>
    identity.revokeRole(deps, req.principal, req.body),
  );
}
