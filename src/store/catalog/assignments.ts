import { and, asc, desc, eq, or, sql, type SQL } from 'drizzle-orm';
import type { CatalogDb } from './db';
import { lockGroup } from './group-lock';
import { assignments, assignmentStudents, feedback, handins, instances, users } from './schema';

// Assignments, their students (with extensions), hand-ins and feedback.

export type AssignmentRow = typeof assignments.$inferSelect;
export type HandinRow = typeof handins.$inferSelect;
export type FeedbackRow = typeof feedback.$inferSelect;

export interface StudentRow {
  instanceId: string;
  slug: string;
  ownerEmail: string | null;
  extendedUntil: Date | null;
}

export async function insertAssignment(db: CatalogDb, row: typeof assignments.$inferInsert, explicitStudents: string[]): Promise<void> {
  await db.insert(assignments).values(row);
  if (explicitStudents.length) await db.insert(assignmentStudents).values(explicitStudents.map((instanceId) => ({ assignmentId: row.id, instanceId })));
}

export async function findAssignment(db: CatalogDb, spaceId: string, slug: string): Promise<AssignmentRow | undefined> {
  const [row] = await db.select().from(assignments).where(and(eq(assignments.spaceId, spaceId), eq(assignments.slug, slug)));
  return row;
}

export async function findAssignmentById(db: CatalogDb, id: string): Promise<AssignmentRow | undefined> {
  const [row] = await db.select().from(assignments).where(eq(assignments.id, id));
  return row;
}

export async function listAssignments(db: CatalogDb, spaceId: string): Promise<AssignmentRow[]> {
  return db.select().from(assignments).where(eq(assignments.spaceId, spaceId)).orderBy(asc(assignments.dueAt), asc(assignments.slug));
}

export async function updateAssignment(db: CatalogDb, id: string, set: Partial<typeof assignments.$inferInsert>): Promise<void> {
  await db.update(assignments).set(set).where(eq(assignments.id, id));
}

const studentColumns = { instanceId: assignmentStudents.instanceId, slug: instances.slug, ownerEmail: users.email, extendedUntil: assignmentStudents.extendedUntil };

/** The assignment's students, by instance slug. */
export async function listStudents(db: CatalogDb, assignmentId: string): Promise<StudentRow[]> {
  return studentsWhere(db, eq(assignmentStudents.assignmentId, assignmentId));
}

/**
 * One student of the assignment, named by instance slug or owner e-mail (a slug wins over another
 * student's e-mail), or `{ owner }`: the student whose instance that user owns. A hand-in reads this
 * one row, not the whole class.
 */
export async function findStudent(db: CatalogDb, assignmentId: string, who: { ref: string } | { owner: string }): Promise<StudentRow | undefined> {
  const named = 'ref' in who ? or(eq(instances.slug, who.ref), eq(users.email, who.ref.toLowerCase())) : eq(users.email, who.owner);
  const rows = await studentsWhere(db, and(eq(assignmentStudents.assignmentId, assignmentId), named)!);
  return 'ref' in who ? (rows.find((s) => s.slug === who.ref) ?? rows[0]) : rows[0];
}

function studentsWhere(db: CatalogDb, where: SQL): Promise<StudentRow[]> {
  return db
    .select(studentColumns)
    .from(assignmentStudents)
    .innerJoin(instances, eq(instances.id, assignmentStudents.instanceId))
    .leftJoin(users, eq(users.id, instances.ownerId))
    .where(where)
    .orderBy(asc(instances.slug));
}

/** Students of a group assignment are its space's ready student instances; they are recorded on the way. */
async function enrolGroup(tx: CatalogDb, assignment: AssignmentRow): Promise<void> {
  const members = await tx
    .select({ id: instances.id })
    .from(instances)
    .where(and(eq(instances.spaceId, assignment.spaceId), eq(instances.group, 'students'), eq(instances.status, 'ready')));
  if (members.length) await tx.insert(assignmentStudents).values(members.map((m) => ({ assignmentId: assignment.id, instanceId: m.id }))).onConflictDoNothing();
}

/**
 * Marks the assignment released and returns its students (a group's are read under the group lock
 * that a joining student instance takes too). Null if it was cancelled first.
 */
export async function releaseAssignment(db: CatalogDb, id: string): Promise<{ assignment: AssignmentRow; students: StudentRow[] } | null> {
  return db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as CatalogDb;
    const assignment = await findAssignmentById(tx, id);
    if (!assignment) throw new Error(`assignment ${id} is not in the catalog`);
    if (assignment.status === 'cancelled') return null;
    if (assignment.groupTarget) {
      await lockGroup(tx, assignment.spaceId);
      await enrolGroup(tx, assignment);
    }
    await tx.update(assignments).set({ status: 'released' }).where(eq(assignments.id, id));
    return { assignment: { ...assignment, status: 'released' as const }, students: await listStudents(tx, id) };
  });
}

/** For a student instance turning ready (inside its locked transaction): released group assignments it joins. */
export async function enrolLateJoiner(tx: CatalogDb, instanceId: string, spaceId: string): Promise<AssignmentRow[]> {
  const open = await tx
    .select()
    .from(assignments)
    .where(and(eq(assignments.spaceId, spaceId), eq(assignments.groupTarget, true), eq(assignments.status, 'released')))
    .orderBy(asc(assignments.createdAt));
  if (open.length) await tx.insert(assignmentStudents).values(open.map((a) => ({ assignmentId: a.id, instanceId }))).onConflictDoNothing();
  return open;
}

export async function setExtension(db: CatalogDb, assignmentId: string, instanceId: string, until: Date): Promise<void> {
  await db.update(assignmentStudents).set({ extendedUntil: until }).where(and(eq(assignmentStudents.assignmentId, assignmentId), eq(assignmentStudents.instanceId, instanceId)));
}

/** Inserts a hand-in version; a retry finds the row already there and gets it back unchanged. */
export async function insertHandin(db: CatalogDb, row: typeof handins.$inferInsert): Promise<HandinRow> {
  await db.insert(handins).values(row).onConflictDoNothing();
  const [stored] = await db
    .select()
    .from(handins)
    .where(and(eq(handins.assignmentId, row.assignmentId), eq(handins.instanceId, row.instanceId), eq(handins.version, row.version)));
  return stored!;
}

export async function listHandins(db: CatalogDb, assignmentId: string, instanceId?: string): Promise<HandinRow[]> {
  const where = instanceId ? and(eq(handins.assignmentId, assignmentId), eq(handins.instanceId, instanceId)) : eq(handins.assignmentId, assignmentId);
  return db.select().from(handins).where(where).orderBy(asc(handins.instanceId), asc(handins.version));
}

/** How many versions a student has, and whether any was handed in by the student (not collected). */
export async function handinStats(db: CatalogDb, assignmentId: string, instanceId: string): Promise<{ versions: number; studentHandedIn: boolean }> {
  const [row] = await db
    .select({ versions: sql<number>`coalesce(max(${handins.version}), 0)`, own: sql<number>`count(*) filter (where not ${handins.autoCollected})` })
    .from(handins)
    .where(and(eq(handins.assignmentId, assignmentId), eq(handins.instanceId, instanceId)));
  return { versions: Number(row?.versions ?? 0), studentHandedIn: Number(row?.own ?? 0) > 0 };
}

export async function insertFeedback(db: CatalogDb, row: Omit<typeof feedback.$inferInsert, 'version'>): Promise<FeedbackRow> {
  const [last] = await db
    .select({ version: feedback.version })
    .from(feedback)
    .where(and(eq(feedback.assignmentId, row.assignmentId), eq(feedback.instanceId, row.instanceId)))
    .orderBy(desc(feedback.version))
    .limit(1);
  const [created] = await db.insert(feedback).values({ ...row, version: (last?.version ?? 0) + 1 }).returning();
  return created!;
}

export async function listFeedback(db: CatalogDb, assignmentId: string, instanceId?: string): Promise<FeedbackRow[]> {
  const where = instanceId ? and(eq(feedback.assignmentId, assignmentId), eq(feedback.instanceId, instanceId)) : eq(feedback.assignmentId, assignmentId);
  return db.select().from(feedback).where(where).orderBy(asc(feedback.instanceId), asc(feedback.version));
}

export async function markFeedbackReleased(db: CatalogDb, id: string, at: Date): Promise<void> {
  await db.update(feedback).set({ releasedAt: at }).where(and(eq(feedback.id, id), sql`${feedback.releasedAt} is null`));
}

/** Blobs hand-ins and feedback keep alive (tree objects and manifests), for the garbage collector. */
export async function allHandinRoots(db: CatalogDb): Promise<{ trees: string[]; blobs: string[] }> {
  const h = await db.select({ tree: handins.treeSha256, manifest: handins.manifestSha256 }).from(handins);
  const f = await db.select({ tree: feedback.filesTree }).from(feedback);
  return { trees: [...h.map((r) => r.tree), ...f.flatMap((r) => (r.tree ? [r.tree] : []))], blobs: h.map((r) => r.manifest) };
}
