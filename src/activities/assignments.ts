import { ApplicationFailure, Context } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import type { HandinReceipt } from '../domain/assignments';
import type { CapturedHandin, HandinRecordInput, StudentAssignmentInput } from '../domain/assignment-run';
import * as store from '../store/catalog/assignments';
import { appendAuditEvent } from '../store/catalog/audit-log';
import type { CatalogDb } from '../store/catalog/db';
import * as outbox from '../store/catalog/outbox';
import { instances, orgs, spaces, users } from '../store/catalog/schema';
import { blobStoreOf } from '../store/blobs';
import { captureHandinTree } from '../store/handin-capture';
import { instancePaths } from '../store/instance-storage';
import type { ActivityDeps } from './deps';
import { diskFullAsFailure } from './disk-full';
import { keyedMail, uuidFromKey } from './mail-text';

/** `assignment:<org>/<space>/<slug>` and `instance:<org>/<space>` for an assignment's space. */
export async function subjectsOf(db: CatalogDb, assignment: store.AssignmentRow): Promise<{ subject: string; instancePrefix: string }> {
  const [row] = await db.select({ org: orgs.slug, space: spaces.slug }).from(spaces).innerJoin(orgs, eq(orgs.id, spaces.orgId)).where(eq(spaces.id, assignment.spaceId));
  return { subject: `assignment:${row!.org}/${row!.space}/${assignment.slug}`, instancePrefix: `instance:${row!.org}/${row!.space}` };
}

/** The input of a student's deadline workflow, from the catalog (also for a new run after an extension). */
export async function studentInputOf(db: CatalogDb, assignment: store.AssignmentRow, student: { instanceId: string; slug: string; extendedUntil: Date | null }): Promise<StudentAssignmentInput> {
  const { subject, instancePrefix } = await subjectsOf(db, assignment);
  const stats = await store.handinStats(db, assignment.id, student.instanceId);
  return {
    record: { assignmentId: assignment.id, assignmentSubject: subject, instanceId: student.instanceId, instanceSubject: `${instancePrefix}/${student.slug}`, handinPaths: assignment.handinPaths },
    deadline: (student.extendedUntil ?? assignment.dueAt).toISOString(),
    cutoffAt: assignment.cutoffAt?.toISOString() ?? null,
    latePolicy: assignment.latePolicy,
    sizeLimitBytes: assignment.sizeLimitBytes,
    versionsSoFar: stats.versions,
    studentHandedIn: stats.studentHandedIn,
  };
}

export function receiptOf(row: store.HandinRow, input: { assignmentSubject: string; instanceSubject: string }, student: string | null): HandinReceipt {
  return {
    assignment: input.assignmentSubject.replace(/^assignment:/, ''),
    student,
    instance: input.instanceSubject.replace(/^instance:/, ''),
    version: row.version,
    handed_in_at: row.handedInAt.toISOString(),
    sha256: row.manifestSha256,
    files: row.fileCount,
    bytes: row.byteCount,
    late: row.late,
    auto_collected: row.autoCollected,
    identifier: row.identifier,
  };
}

export function createAssignmentActivities({ catalog, dataDir }: ActivityDeps) {
  const ownerOf = async (instanceId: string) => {
    const [row] = await catalog.db.select({ email: users.email, name: users.name }).from(instances).innerJoin(users, eq(users.id, instances.ownerId)).where(eq(instances.id, instanceId));
    return row ?? null;
  };

  /** Stores the version, its audit event and the receipt mail in one transaction. Retry-safe: keyed by version. */
  async function record(input: HandinRecordInput, handin: CapturedHandin, action: string, details: Record<string, unknown>): Promise<HandinReceipt> {
    const owner = await ownerOf(input.instanceId);
    const receipt = await catalog.db.transaction(async (txRaw) => {
      const tx = txRaw as unknown as CatalogDb;
      const row = await store.insertHandin(tx, {
        id: uuidFromKey(`${input.taskId}/handin/${input.version}`),
        assignmentId: input.assignmentId,
        instanceId: input.instanceId,
        version: input.version,
        handedInAt: new Date(input.handedInAt),
        treeSha256: handin.treeSha256,
        manifestSha256: handin.manifestSha256,
        fileCount: handin.files,
        byteCount: handin.bytes,
        late: input.late,
        autoCollected: input.autoCollected,
        identifier: handin.identifier,
        actor: handin.actor,
      });
      const receipt = receiptOf(row, input, owner?.email ?? null);
      await appendAuditEvent(tx, {
        event_key: `${input.taskId}/handin/${input.version}`,
        actor: handin.actor,
        action,
        subject: input.assignmentSubject,
        details: { student: receipt.student, instance: receipt.instance, version: row.version, files: row.fileCount, bytes: row.byteCount, late: row.late, identifier: row.identifier, ...details },
        content_hashes: { manifest: row.manifestSha256, tree: row.treeSha256 },
        task_id: input.taskId,
      });
      if (owner) {
        const key = `${input.taskId}/receipt/${input.version}`;
        const what = input.autoCollected ? 'was collected automatically at the deadline' : 'was received';
        await outbox.queueMails(tx, [
          keyedMail({
            key,
            taskId: input.taskId,
            recipient: owner.email,
            subject: `Hand-in receipt: ${receipt.assignment}, version ${receipt.version}`,
            greeting: `Hello ${owner.name},`,
            lines: [
              `Your hand-in for ${receipt.assignment} ${what}.`,
              '',
              `  version:   ${receipt.version}`,
              `  time:      ${receipt.handed_in_at}${receipt.late ? ' (late)' : ''}`,
              `  files:     ${receipt.files} (${receipt.bytes} bytes)`,
              `  sha256:    ${receipt.sha256}`,
              ...(receipt.identifier ? [`  identifier: ${receipt.identifier}`] : []),
              '',
              'Keep this mail: the sha256 identifies exactly what was stored.',
            ],
          }),
        ]);
      }
      return receipt;
    });
    return receipt;
  }

  return {
    /**
     * Marks the assignment released and returns one deadline-workflow input per student. Retry-safe:
     * releasing twice changes nothing, and enrolment rows are unique per student.
     */
    async releaseAssignment(input: { assignmentId: string; taskId: string }): Promise<StudentAssignmentInput[]> {
      const released = await store.releaseAssignment(catalog.db, input.assignmentId);
      if (!released) throw ApplicationFailure.nonRetryable('the assignment was cancelled before its release', 'Cancelled');
      const { subject } = await subjectsOf(catalog.db, released.assignment);
      await appendAuditEvent(catalog.db, {
        event_key: `${input.taskId}/assignment.released`,
        actor: released.assignment.actor,
        action: 'assignment.released',
        subject,
        details: { students: released.students.map((s) => s.slug) },
        task_id: input.taskId,
      });
      return Promise.all(released.students.map((s) => studentInputOf(catalog.db, released.assignment, s)));
    },

    /** Records a hand-in the service already stored as blobs (the update's handler). Retry-safe: keyed by version. */
    async recordHandin(input: HandinRecordInput & { handin: CapturedHandin }): Promise<HandinReceipt> {
      return record(input, input.handin, input.late ? 'handin.submitted_late' : 'handin.submitted', {});
    },

    /**
     * At the effective deadline: copies the hand-in paths from the student's current state and records
     * them flagged `auto_collected`. Retry-safe: a version already stored is returned as it is; a
     * capture interrupted by a crash only leaves unreferenced blobs, which the collector frees.
     */
    async autoCollectHandin(input: HandinRecordInput): Promise<HandinReceipt> {
      const existing = (await store.listHandins(catalog.db, input.assignmentId, input.instanceId)).find((h) => h.version === input.version);
      if (existing) return receiptOf(existing, input, (await ownerOf(input.instanceId))?.email ?? null);
      const ctx = Context.current();
      const blobs = await blobStoreOf(dataDir);
      const captured = await diskFullAsFailure(() => captureHandinTree(blobs, instancePaths(dataDir, input.instanceId), input.handinPaths, { signal: ctx.cancellationSignal }));
      const handin: CapturedHandin = { ...captured, identifier: null, actor: 'system:collector' };
      return record(input, handin, 'handin.auto_collected', { missing: captured.missing });
    },
  };
}
