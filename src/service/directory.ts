import { randomUUID } from 'node:crypto';
import { CreateInstance, CreateOrg, CreateSpace, type InstanceView, type OrgView, type SpaceView, type TaskStarted } from '../domain';
import { appendAuditEvent } from '../store/catalog/audit-log';
import type { CatalogDb } from '../store/catalog/db';
import * as dir from '../store/catalog/directory';
import { findUserByEmail } from '../store/catalog/identity';
import type { CreateInstanceInput } from '../workflows';
import { adminSpaceIds, grantsOf, requireAdmin, requireSpaceAdmin } from './authz';
import { actorOf, type Principal, type ServiceDeps } from './deps';
import { conflict, isUniqueViolation, notFound } from './errors';
import { slugOrDerived } from './slugs';
import { startTask } from './tasks';

// Orgs, spaces and instances: listing what the caller may see, creating what they may create.

const orgView = (o: dir.OrgRow): OrgView => ({ slug: o.slug, name: o.name, created_at: o.createdAt.toISOString() });
const spaceView = (org: string, s: dir.SpaceRow): SpaceView => ({ org_slug: org, slug: s.slug, name: s.name, description: s.description, created_at: s.createdAt.toISOString() });
const instanceView = (org: string, space: string, i: dir.InstanceRow & { ownerEmail: string | null }): InstanceView => ({
  org_slug: org,
  space_slug: space,
  slug: i.slug,
  name: i.name,
  description: i.description,
  status: i.status,
  group: i.group,
  owner: i.ownerEmail,
  created_at: i.createdAt.toISOString(),
});

export async function resolveOrg(db: CatalogDb, slug: string): Promise<dir.OrgRow> {
  const org = await dir.findOrg(db, slug);
  if (!org) throw notFound(`organization "${slug}"`);
  return org;
}

export async function resolveSpace(db: CatalogDb, orgSlug: string, spaceSlug: string): Promise<{ org: dir.OrgRow; space: dir.SpaceRow }> {
  const org = await resolveOrg(db, orgSlug);
  const space = await dir.findSpace(db, org.id, spaceSlug);
  if (!space) throw notFound(`space "${orgSlug}/${spaceSlug}"`);
  return { org, space };
}

export async function resolveInstance(db: CatalogDb, ref: { org_slug: string; space_slug: string; instance_slug: string }) {
  const { org, space, instance } = await dir.findInstancePath(db, ref.org_slug, ref.space_slug, ref.instance_slug);
  if (!org) throw notFound(`organization "${ref.org_slug}"`);
  if (!space) throw notFound(`space "${ref.org_slug}/${ref.space_slug}"`);
  if (!instance) throw notFound(`instance "${ref.org_slug}/${ref.space_slug}/${ref.instance_slug}"`);
  return { org, space, instance };
}

/** Admins see every org; others see the orgs where they hold a role. */
export async function listOrgs(deps: ServiceDeps, p: Principal): Promise<OrgView[]> {
  const db = deps.catalog.db;
  if (p.isAdmin) return (await dir.listOrgs(db)).map(orgView);
  const grants = await grantsOf(db, p);
  const slugs = new Set(grants.map((g) => g.orgSlug));
  return (await dir.listOrgs(db)).filter((o) => slugs.has(o.slug)).map(orgView);
}

export async function createOrg(deps: ServiceDeps, p: Principal, body: CreateOrg): Promise<OrgView> {
  requireAdmin(p, 'creating an organization');
  const input = CreateOrg.parse(body);
  try {
    return await deps.catalog.db.transaction(async (tx) => {
      const org = await dir.insertOrg(tx as unknown as CatalogDb, { id: randomUUID(), slug: input.slug, name: input.name ?? input.slug });
      await appendAuditEvent(tx as unknown as CatalogDb, {
        event_key: `api/${randomUUID()}`,
        actor: actorOf(p),
        action: 'org.created',
        subject: `org:${org.slug}`,
        details: { name: org.name },
      });
      return orgView(org);
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict(`an organization with the slug "${input.slug}" already exists`);
    throw err;
  }
}

export async function listSpaces(deps: ServiceDeps, p: Principal, orgSlug: string): Promise<SpaceView[]> {
  const db = deps.catalog.db;
  const org = await resolveOrg(db, orgSlug);
  if (p.isAdmin) return (await dir.listSpaces(db, org.id)).map((s) => spaceView(org.slug, s));
  const grants = await grantsOf(db, p);
  return (await dir.listSpaces(db, org.id, [...new Set(grants.map((g) => g.spaceId))])).map((s) => spaceView(org.slug, s));
}

export async function createSpace(deps: ServiceDeps, p: Principal, orgSlug: string, body: CreateSpace): Promise<SpaceView> {
  requireAdmin(p, 'creating a space');
  const input = CreateSpace.parse(body);
  const org = await resolveOrg(deps.catalog.db, orgSlug);
  try {
    return await deps.catalog.db.transaction(async (tx) => {
      const space = await dir.insertSpace(tx as unknown as CatalogDb, {
        id: randomUUID(),
        orgId: org.id,
        slug: input.slug,
        name: input.name ?? input.slug,
        description: input.description ?? '',
      });
      await appendAuditEvent(tx as unknown as CatalogDb, {
        event_key: `api/${randomUUID()}`,
        actor: actorOf(p),
        action: 'space.created',
        subject: `space:${org.slug}/${space.slug}`,
        details: { name: space.name, description: space.description },
      });
      return spaceView(org.slug, space);
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict(`a space with the slug "${input.slug}" already exists in organization "${org.slug}"`);
    throw err;
  }
}

/** Space admins see every instance of their space; others only the instances they hold a role on. */
export async function listInstances(deps: ServiceDeps, p: Principal, orgSlug: string, spaceSlug: string): Promise<InstanceView[]> {
  const db = deps.catalog.db;
  const { org, space } = await resolveSpace(db, orgSlug, spaceSlug);
  const grants = p.isAdmin ? [] : await grantsOf(db, p);
  const seeAll = p.isAdmin || adminSpaceIds(grants).includes(space.id);
  const only = seeAll ? undefined : grants.filter((g) => g.spaceId === space.id && g.instanceId).map((g) => g.instanceId!);
  return (await dir.listInstances(db, space.id, only)).map((i) => instanceView(org.slug, space.slug, i));
}

/** Starts the `instances create` task; the slug is checked here so a duplicate fails before anything runs. */
export async function startInstanceCreation(deps: ServiceDeps, p: Principal, orgSlug: string, spaceSlug: string, body: CreateInstance): Promise<TaskStarted & { instance_slug: string }> {
  const db = deps.catalog.db;
  const input = CreateInstance.parse(body);
  const { org, space } = await resolveSpace(db, orgSlug, spaceSlug);
  requireSpaceAdmin(p, await grantsOf(db, p), space.id, 'creating an instance', `space "${org.slug}/${space.slug}"`);
  const slug = slugOrDerived(input.slug, input.name);
  if (await dir.findInstance(db, space.id, slug)) throw conflict(`an instance with the slug "${slug}" already exists in space "${org.slug}/${space.slug}"`);
  const student = input.student ? await findUserByEmail(db, input.student) : undefined;
  if (input.student && !student) throw notFound(`user "${input.student}" (create the user first: handout users create)`);
  const instanceId = randomUUID();
  const workflowInput: CreateInstanceInput = {
    instanceId,
    spaceId: space.id,
    orgSlug: org.slug,
    spaceSlug: space.slug,
    slug,
    name: input.name,
    description: input.description ?? '',
    actor: actorOf(p),
    createdBy: p.userId,
    student: student ? { userId: student.id, email: student.email } : null,
  };
  const started = await startTask(deps, p, {
    kind: 'instance.create',
    taskId: `instance-create-${instanceId}`,
    subject: `instance:${org.slug}/${space.slug}/${slug}`,
    spaceId: space.id,
    workflowType: 'createInstanceWorkflow',
    args: [workflowInput],
  });
  return { ...started, instance_slug: slug };
}
