import { and, asc, eq } from 'drizzle-orm';
import type { CatalogDb } from './db';
import { snapshots, users } from './schema';

// The snapshot catalog: one row per committed snapshot, pointing at its snapshot object blob.

export type SnapshotRow = typeof snapshots.$inferSelect;
export type SnapshotRowWithCreator = SnapshotRow & { createdByEmail: string };

/**
 * Commits a snapshot. Idempotent by id: a retry returns the row already committed. Returns
 * undefined when another snapshot of the instance has the name.
 */
export async function insertSnapshot(db: CatalogDb, row: typeof snapshots.$inferInsert): Promise<SnapshotRow | undefined> {
  const [mine] = await db.select().from(snapshots).where(eq(snapshots.id, row.id));
  if (mine) return mine;
  const [created] = await db.insert(snapshots).values(row).onConflictDoNothing().returning();
  return created;
}

const withCreator = { ...snapshotsColumns(), createdByEmail: users.email };
function snapshotsColumns() {
  const { id, instanceId, name, description, kind, objectSha256, filesTree, fileCount, byteCount, tableCount, appCount, taskId, createdBy, createdAt } = snapshots;
  return { id, instanceId, name, description, kind, objectSha256, filesTree, fileCount, byteCount, tableCount, appCount, taskId, createdBy, createdAt };
}

export async function findSnapshot(db: CatalogDb, instanceId: string, name: string): Promise<SnapshotRowWithCreator | undefined> {
  const [row] = await db
    .select(withCreator)
    .from(snapshots)
    .innerJoin(users, eq(snapshots.createdBy, users.id))
    .where(and(eq(snapshots.instanceId, instanceId), eq(snapshots.name, name)));
  return row;
}

export async function listSnapshots(db: CatalogDb, instanceId: string): Promise<SnapshotRowWithCreator[]> {
  return db.select(withCreator).from(snapshots).innerJoin(users, eq(snapshots.createdBy, users.id)).where(eq(snapshots.instanceId, instanceId)).orderBy(asc(snapshots.createdAt));
}

export async function deleteSnapshot(db: CatalogDb, id: string): Promise<boolean> {
  const deleted = await db.delete(snapshots).where(eq(snapshots.id, id)).returning({ id: snapshots.id });
  return deleted.length > 0;
}

/** The snapshot object of every committed snapshot: the roots of the garbage collector's mark phase. */
export async function allSnapshotObjects(db: CatalogDb): Promise<string[]> {
  return (await db.select({ sha: snapshots.objectSha256 }).from(snapshots)).map((r) => r.sha);
}
