import { and, asc, eq, gt, inArray, isNull, or, sql } from 'drizzle-orm';
import type { Role } from '../../domain/roles';
import type { CatalogDb } from './db';
import { apiKeys, instances, orgs, roleGrants, spaces, users } from './schema';

// Users, API keys (hashed) and role grants.

export type UserRow = typeof users.$inferSelect;
export type KeyRow = typeof apiKeys.$inferSelect;

export async function countUsers(db: CatalogDb): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(users);
  return Number(row?.n ?? 0);
}

export async function findUserByEmail(db: CatalogDb, email: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.email, email.toLowerCase()));
  return row;
}

export async function listUsers(db: CatalogDb): Promise<UserRow[]> {
  return db.select().from(users).orderBy(asc(users.email));
}

export async function insertUser(db: CatalogDb, row: typeof users.$inferInsert): Promise<UserRow> {
  const [created] = await db.insert(users).values({ ...row, email: row.email.toLowerCase() }).returning();
  return created!;
}

export async function insertKey(db: CatalogDb, row: typeof apiKeys.$inferInsert): Promise<KeyRow> {
  const [created] = await db.insert(apiKeys).values(row).returning();
  return created!;
}

/** The active key (neither revoked nor expired at `now`) with this hash, and its user. */
export async function findActiveKey(db: CatalogDb, keyHash: string, now: Date): Promise<{ key: KeyRow; user: UserRow } | undefined> {
  const [row] = await db
    .select({ key: apiKeys, user: users })
    .from(apiKeys)
    .innerJoin(users, eq(apiKeys.userId, users.id))
    .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now))));
  return row;
}

export async function findKeyByHash(db: CatalogDb, keyHash: string): Promise<KeyRow | undefined> {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.keyHash, keyHash));
  return row;
}

export async function findKey(db: CatalogDb, id: string): Promise<{ key: KeyRow; user: UserRow } | undefined> {
  const [row] = await db.select({ key: apiKeys, user: users }).from(apiKeys).innerJoin(users, eq(apiKeys.userId, users.id)).where(eq(apiKeys.id, id));
  return row;
}

export async function listKeys(db: CatalogDb, userId?: string): Promise<{ key: KeyRow; user: UserRow }[]> {
  return db
    .select({ key: apiKeys, user: users })
    .from(apiKeys)
    .innerJoin(users, eq(apiKeys.userId, users.id))
    .where(userId ? eq(apiKeys.userId, userId) : undefined)
    .orderBy(asc(apiKeys.createdAt));
}

export async function revokeKey(db: CatalogDb, id: string, at: Date): Promise<void> {
  await db.update(apiKeys).set({ revokedAt: at }).where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)));
}

/** A grant joined with the slugs it refers to. */
export interface GrantRow {
  id: string;
  userId: string;
  userEmail: string;
  role: Role;
  spaceId: string;
  instanceId: string | null;
  orgSlug: string;
  spaceSlug: string;
  instanceSlug: string | null;
  createdAt: Date;
}

const grantColumns = {
  id: roleGrants.id,
  userId: roleGrants.userId,
  userEmail: users.email,
  role: roleGrants.role,
  spaceId: roleGrants.spaceId,
  instanceId: roleGrants.instanceId,
  orgSlug: orgs.slug,
  spaceSlug: spaces.slug,
  instanceSlug: instances.slug,
  createdAt: roleGrants.createdAt,
};

/** Grants, optionally narrowed to a user and/or a set of spaces. */
export async function listGrants(db: CatalogDb, filter: { userId?: string; spaceIds?: string[] } = {}): Promise<GrantRow[]> {
  if (filter.spaceIds && filter.spaceIds.length === 0) return [];
  const where = and(
    filter.userId ? eq(roleGrants.userId, filter.userId) : undefined,
    filter.spaceIds ? inArray(roleGrants.spaceId, filter.spaceIds) : undefined,
  );
  return db
    .select(grantColumns)
    .from(roleGrants)
    .innerJoin(users, eq(roleGrants.userId, users.id))
    .innerJoin(spaces, eq(roleGrants.spaceId, spaces.id))
    .innerJoin(orgs, eq(spaces.orgId, orgs.id))
    .leftJoin(instances, eq(roleGrants.instanceId, instances.id))
    .where(where)
    .orderBy(asc(users.email), asc(orgs.slug), asc(spaces.slug), asc(roleGrants.role));
}

/** What a role check needs of a grant. */
export type GrantScope = Pick<GrantRow, 'role' | 'spaceId' | 'instanceId'>;

/** A user's grants in one space, as much as a role check needs (no joins: every instance request asks). */
export async function grantsInSpace(db: CatalogDb, userId: string, spaceId: string): Promise<GrantScope[]> {
  return db
    .select({ role: roleGrants.role, spaceId: roleGrants.spaceId, instanceId: roleGrants.instanceId })
    .from(roleGrants)
    .where(and(eq(roleGrants.userId, userId), eq(roleGrants.spaceId, spaceId)));
}

/** Inserts a grant unless it exists; returns true when it was new. */
export async function insertGrant(db: CatalogDb, row: typeof roleGrants.$inferInsert): Promise<boolean> {
  const created = await db.insert(roleGrants).values(row).onConflictDoNothing().returning({ id: roleGrants.id });
  return created.length > 0;
}

/** Deletes a grant; returns true when one existed. */
export async function deleteGrant(db: CatalogDb, g: { userId: string; role: Role; spaceId: string; instanceId: string | null }): Promise<boolean> {
  const deleted = await db
    .delete(roleGrants)
    .where(
      and(
        eq(roleGrants.userId, g.userId),
        eq(roleGrants.role, g.role),
        eq(roleGrants.spaceId, g.spaceId),
        g.instanceId ? eq(roleGrants.instanceId, g.instanceId) : isNull(roleGrants.instanceId),
      ),
    )
    .returning({ id: roleGrants.id });
  return deleted.length > 0;
}
