import { and, asc, eq, inArray, isNotNull } from 'drizzle-orm';
import { enrolLateJoiner, type AssignmentRow } from './assignments';
import type { CatalogDb } from './db';
import { lockGroup } from './group-lock';
import { distributions, instances, roleGrants, users } from './schema';

// Distributions and student groups. A group distribution and a joining student instance meet under
// one per-space lock, so every student instance is reached by each group distribution: either it was
// ready when the stage was published, or it sees the published stage when it turns ready.

export type DistributionRow = typeof distributions.$inferSelect;


export async function insertDistribution(db: CatalogDb, row: typeof distributions.$inferInsert): Promise<void> {
  await db.insert(distributions).values(row);
}

export async function findDistribution(db: CatalogDb, id: string): Promise<DistributionRow | undefined> {
  const [row] = await db.select().from(distributions).where(eq(distributions.id, id));
  return row;
}

/** Ready student instances of a space, by slug. */
async function studentInstances(db: CatalogDb, spaceId: string): Promise<{ id: string; slug: string }[]> {
  return db
    .select({ id: instances.id, slug: instances.slug })
    .from(instances)
    .where(and(eq(instances.spaceId, spaceId), eq(instances.group, 'students'), eq(instances.status, 'ready')))
    .orderBy(asc(instances.slug));
}

/**
 * Records the built stage and returns the group's current members (none for a distribution without
 * a group target).
 */
export async function publishStage(db: CatalogDb, id: string, stageObjectSha256: string): Promise<{ id: string; slug: string }[]> {
  return db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as CatalogDb;
    const row = await findDistribution(tx, id);
    if (!row) throw new Error(`distribution ${id} is not in the catalog`);
    if (row.groupSpaceId) await lockGroup(tx, row.groupSpaceId);
    await tx.update(distributions).set({ stageObjectSha256 }).where(eq(distributions.id, id));
    return row.groupSpaceId ? studentInstances(tx, row.groupSpaceId) : [];
  });
}

/**
 * Marks an instance ready and, for a student instance, returns the group distributions of its space
 * whose stage is published, oldest first, and the released group assignments it is now enrolled in:
 * the late joiner must receive each of them.
 */
export async function markReadyAndListGroupWork(db: CatalogDb, instanceId: string): Promise<{ distributions: DistributionRow[]; assignments: AssignmentRow[] }> {
  return db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as CatalogDb;
    const [instance] = await tx.select().from(instances).where(eq(instances.id, instanceId));
    if (!instance) throw new Error(`instance ${instanceId} is not in the catalog`);
    if (instance.group === 'students') await lockGroup(tx, instance.spaceId);
    await tx.update(instances).set({ status: 'ready' }).where(eq(instances.id, instanceId));
    if (instance.group !== 'students') return { distributions: [], assignments: [] };
    const published = await tx
      .select()
      .from(distributions)
      .where(and(eq(distributions.groupSpaceId, instance.spaceId), isNotNull(distributions.stageObjectSha256)))
      .orderBy(asc(distributions.createdAt));
    return { distributions: published, assignments: await enrolLateJoiner(tx, instanceId, instance.spaceId) };
  });
}

/** Stages of every distribution: the garbage collector keeps their blobs (a late joiner may need them). */
export async function allStageObjects(db: CatalogDb): Promise<string[]> {
  const rows = await db.select({ sha: distributions.stageObjectSha256 }).from(distributions).where(isNotNull(distributions.stageObjectSha256));
  return rows.map((r) => r.sha!);
}

/** Who hears about a distribution to an instance: its owner and everyone with a role on that very instance. */
export async function recipientsOf(db: CatalogDb, instanceId: string): Promise<{ email: string; name: string }[]> {
  const out = new Map<string, { email: string; name: string }>();
  const [owner] = await db
    .select({ email: users.email, name: users.name })
    .from(instances)
    .innerJoin(users, eq(users.id, instances.ownerId))
    .where(eq(instances.id, instanceId));
  if (owner) out.set(owner.email, owner);
  const granted = await db
    .select({ email: users.email, name: users.name })
    .from(roleGrants)
    .innerJoin(users, eq(users.id, roleGrants.userId))
    .where(inArray(roleGrants.instanceId, [instanceId]));
  for (const g of granted) out.set(g.email, g);
  return [...out.values()].sort((a, b) => a.email.localeCompare(b.email));
}
