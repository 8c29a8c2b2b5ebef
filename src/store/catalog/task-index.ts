import { and, desc, eq, inArray, or, type SQL } from 'drizzle-orm';
import type { CatalogDb } from './db';
import { tasks, users } from './schema';

// The task index: which tasks exist, who started them and where; their live status comes from Temporal.

export type TaskRow = typeof tasks.$inferSelect & { createdByEmail: string };

const columns = {
  id: tasks.id,
  kind: tasks.kind,
  subject: tasks.subject,
  spaceId: tasks.spaceId,
  createdBy: tasks.createdBy,
  createdAt: tasks.createdAt,
  createdByEmail: users.email,
};

/** Indexes a task. Idempotent by task id. */
export async function insertTask(db: CatalogDb, row: typeof tasks.$inferInsert): Promise<void> {
  await db.insert(tasks).values(row).onConflictDoNothing();
}

export async function deleteTask(db: CatalogDb, id: string): Promise<void> {
  await db.delete(tasks).where(eq(tasks.id, id));
}

export async function findTask(db: CatalogDb, id: string): Promise<TaskRow | undefined> {
  const [row] = await db.select(columns).from(tasks).innerJoin(users, eq(tasks.createdBy, users.id)).where(eq(tasks.id, id));
  return row;
}

/** Newest first; `visibleTo` narrows to tasks a user started or that belong to spaces they administer. */
export async function listTasks(db: CatalogDb, opts: { limit: number; visibleTo?: { userId: string; spaceIds: string[] } }): Promise<TaskRow[]> {
  let where: SQL | undefined;
  if (opts.visibleTo) {
    const { userId, spaceIds } = opts.visibleTo;
    where = spaceIds.length ? or(eq(tasks.createdBy, userId), inArray(tasks.spaceId, spaceIds)) : eq(tasks.createdBy, userId);
  }
  return db.select(columns).from(tasks).innerJoin(users, eq(tasks.createdBy, users.id)).where(and(where)).orderBy(desc(tasks.createdAt)).limit(opts.limit);
}
