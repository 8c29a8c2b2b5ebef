import { and, asc, eq, inArray } from 'drizzle-orm';
import type { CatalogDb } from './db';
import { instances, orgs, spaces, users } from './schema';

// Queries over the workspace hierarchy: orgs → spaces → instances.

export type OrgRow = typeof orgs.$inferSelect;
export type SpaceRow = typeof spaces.$inferSelect;
export type InstanceRow = typeof instances.$inferSelect;

export async function findOrg(db: CatalogDb, slug: string): Promise<OrgRow | undefined> {
  const [row] = await db.select().from(orgs).where(eq(orgs.slug, slug));
  return row;
}

export async function listOrgs(db: CatalogDb, onlyIds?: string[]): Promise<OrgRow[]> {
  if (onlyIds && onlyIds.length === 0) return [];
  return db.select().from(orgs).where(onlyIds ? inArray(orgs.id, onlyIds) : undefined).orderBy(asc(orgs.slug));
}

export async function insertOrg(db: CatalogDb, row: typeof orgs.$inferInsert): Promise<OrgRow> {
  const [created] = await db.insert(orgs).values(row).returning();
  return created!;
}

export async function findSpace(db: CatalogDb, orgId: string, slug: string): Promise<SpaceRow | undefined> {
  const [row] = await db.select().from(spaces).where(and(eq(spaces.orgId, orgId), eq(spaces.slug, slug)));
  return row;
}

export async function listSpaces(db: CatalogDb, orgId: string, onlyIds?: string[]): Promise<SpaceRow[]> {
  if (onlyIds && onlyIds.length === 0) return [];
  const where = onlyIds ? and(eq(spaces.orgId, orgId), inArray(spaces.id, onlyIds)) : eq(spaces.orgId, orgId);
  return db.select().from(spaces).where(where).orderBy(asc(spaces.slug));
}

export async function insertSpace(db: CatalogDb, row: typeof spaces.$inferInsert): Promise<SpaceRow> {
  const [created] = await db.insert(spaces).values(row).returning();
  return created!;
}

export async function findInstance(db: CatalogDb, spaceId: string, slug: string): Promise<InstanceRow | undefined> {
  const [row] = await db.select().from(instances).where(and(eq(instances.spaceId, spaceId), eq(instances.slug, slug)));
  return row;
}

/**
 * An org, its space and that space's instance by their slugs, in one query (every instance request
 * resolves its path first): each part undefined from the first one that does not exist.
 */
export async function findInstancePath(
  db: CatalogDb,
  orgSlug: string,
  spaceSlug: string,
  instanceSlug: string,
): Promise<{ org?: OrgRow; space?: SpaceRow; instance?: InstanceRow }> {
  const [row] = await db
    .select({ org: orgs, space: spaces, instance: instances })
    .from(orgs)
    .leftJoin(spaces, and(eq(spaces.orgId, orgs.id), eq(spaces.slug, spaceSlug)))
    .leftJoin(instances, and(eq(instances.spaceId, spaces.id), eq(instances.slug, instanceSlug)))
    .where(eq(orgs.slug, orgSlug));
  return { org: row?.org, space: row?.space ?? undefined, instance: row?.instance ?? undefined };
}

/** Instances of a space (optionally only some), each with its owner's e-mail. */
export async function findInstanceById(db: CatalogDb, id: string): Promise<InstanceRow | undefined> {
  const [row] = await db.select().from(instances).where(eq(instances.id, id));
  return row;
}

export async function listInstances(db: CatalogDb, spaceId: string, onlyIds?: string[]): Promise<(InstanceRow & { ownerEmail: string | null })[]> {
  if (onlyIds && onlyIds.length === 0) return [];
  const where = onlyIds ? and(eq(instances.spaceId, spaceId), inArray(instances.id, onlyIds)) : eq(instances.spaceId, spaceId);
  const rows = await db.select({ instance: instances, ownerEmail: users.email }).from(instances).leftJoin(users, eq(users.id, instances.ownerId)).where(where).orderBy(asc(instances.slug));
  return rows.map((r) => ({ ...r.instance, ownerEmail: r.ownerEmail }));
}

/**
 * Registers an instance with a caller-chosen id. Idempotent: a retry with the same id returns the
 * existing row; the same slug under another id is a conflict (returned as `undefined`).
 */
export async function registerInstance(db: CatalogDb, row: typeof instances.$inferInsert): Promise<InstanceRow | undefined> {
  const [mine] = await db.select().from(instances).where(eq(instances.id, row.id));
  if (mine) return mine;
  const [created] = await db.insert(instances).values(row).onConflictDoNothing().returning();
  return created;
}
