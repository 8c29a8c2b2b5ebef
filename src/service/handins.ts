import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { instances } from '../store/catalog/schema';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { receiptOf } from '../activities/assignments';
import { HandinView, SubmitHandin, type HandinReceipt } from '../domain/assignments';
import type { CapturedHandin } from '../domain/assignment-run';
import { innermostMessage } from '../domain/errors';
import { showInZone } from '../domain/zoned-time';
import * as store from '../store/catalog/assignments';
import { appendAuditEvent } from '../store/catalog/audit-log';
import { blobStoreOf } from '../store/blobs';
import { captureHandinTree, listFiles } from '../store/handin-capture';
import { instancePaths } from '../store/instance-storage';
import { findAssignment, findStudent, studentWorkflowId, type OpenedAssignment } from './assignments';
import { grantsOf, isSpaceAdmin } from './authz';
import { gradedVersion } from './feedback';
import { actorOf, type Principal, type ServiceDeps } from './deps';
import { forbidden, HandoutError } from './errors';

// Hand-ins. A student hands in only from their own instance and sees only their own hand-ins; space
// admins see every hand-in of their space. Each refused attempt is a 403 and an audit event.

/** The caller's own student instance in this assignment (or, for a space admin, the one named). */
async function studentOf(deps: ServiceDeps, p: Principal, a: OpenedAssignment, who: string | undefined, action: string): Promise<{ student: store.StudentRow; admin: boolean }> {
  const admin = isSpaceAdmin(p, await grantsOf(deps.catalog.db, p), a.space.id);
  const enrolled = await store.findStudent(deps.catalog.db, a.assignment.id, { owner: p.email });
  // A group assignment enrols its students at its release; before that, a student instance of the space counts.
  const own = enrolled ?? (a.assignment.groupTarget ? await ownStudentInstance(deps, p, a) : undefined);
  if (who !== undefined) {
    const named = admin ? await findStudent(deps, a, who) : await store.findStudent(deps.catalog.db, a.assignment.id, { ref: who });
    if (named && (admin || named.instanceId === own?.instanceId)) return { student: named, admin };
    await refuse(deps, p, a, action, `${p.email} may ${action} only for their own instance, not for "${who}"`);
  }
  if (own) return { student: own, admin };
  return refuse(deps, p, a, action, `${p.email} is not a student of assignment ${a.subject.replace('assignment:', '')}`);
}

async function ownStudentInstance(deps: ServiceDeps, p: Principal, a: OpenedAssignment): Promise<store.StudentRow | undefined> {
  const [row] = await deps.catalog.db
    .select({ instanceId: instances.id, slug: instances.slug })
    .from(instances)
    .where(and(eq(instances.spaceId, a.space.id), eq(instances.group, 'students'), eq(instances.ownerId, p.userId)));
  return row ? { ...row, ownerEmail: p.email, extendedUntil: null } : undefined;
}

async function refuse(deps: ServiceDeps, p: Principal, a: OpenedAssignment, action: string, message: string): Promise<never> {
  await appendAuditEvent(deps.catalog.db, { event_key: `api/${randomUUID()}`, actor: actorOf(p), action: 'handin.refused', subject: a.subject, details: { attempted: action, reason: message } });
  throw forbidden(message);
}

/**
 * `handin submit`: copies the hand-in paths from the student's current state into write-once storage,
 * then asks the student's deadline workflow to record it (an update). The workflow's validator refuses
 * a hand-in after the cut-off, incomplete or too large, before anything is written to its history.
 */
export async function submitHandin(deps: ServiceDeps, p: Principal, org: string, space: string, slug: string, body: SubmitHandin & { student?: string }, arrivedAt = new Date()): Promise<HandinReceipt> {
  // The hand-in counts from its arrival at the API (see the workflow's validator), not from whenever a
  // busy server got round to it.
  const receivedAt = arrivedAt.toISOString();
  const req = SubmitHandin.parse({ identifier: body.identifier });
  const a = await findAssignment(deps, org, space, slug);
  const { student } = await studentOf(deps, p, a, body.student, 'hand in');
  const reject = async (message: string, code: 'conflict' | 'invalid_input' = 'conflict'): Promise<never> => {
    await appendAuditEvent(deps.catalog.db, {
      event_key: `api/${randomUUID()}`,
      actor: actorOf(p),
      action: 'handin.rejected',
      subject: a.subject,
      details: { student: student.ownerEmail, instance: student.slug, reason: message },
    });
    throw new HandoutError(code, message);
  };
  if (a.assignment.status === 'cancelled') return reject(`assignment ${slug} was cancelled`);
  if (a.assignment.status === 'scheduled') return reject(`assignment ${slug} is not released yet${a.assignment.releaseAt ? `: it opens at ${showInZone(a.assignment.releaseAt, a.assignment.timezone)}` : ''}`);
  const blobs = await blobStoreOf(deps.dataDir);
  const captured = await captureHandinTree(blobs, instancePaths(deps.dataDir, student.instanceId), a.assignment.handinPaths);
  const handin: CapturedHandin = {
    treeSha256: captured.treeSha256,
    manifestSha256: captured.manifestSha256,
    files: captured.files,
    bytes: captured.bytes,
    missing: captured.missing,
    identifier: req.identifier ?? null,
    actor: actorOf(p),
    receivedAt,
  };
  // When this student's hand-in closes: their deadline, or under accept-late the later cut-off.
  const deadline = student.extendedUntil ?? a.assignment.dueAt;
  const closes = a.assignment.latePolicy === 'accept-late' && a.assignment.cutoffAt && a.assignment.cutoffAt > deadline ? a.assignment.cutoffAt : deadline;
  const closed = (countedFrom?: string) =>
    reject(`hand-in is closed: it closed at ${showInZone(closes, a.assignment.timezone)}${countedFrom ? `; this hand-in counts from ${showInZone(countedFrom, a.assignment.timezone)}` : ''}`);
  // One update id for every attempt: Temporal answers a repeated id with the first attempt's outcome,
  // so a call that timed out (a busy server minutes before a deadline) is asked again without any risk
  // of recording the hand-in twice, and the student is never told "error" about a hand-in that was kept.
  const handle = deps.temporal.workflow.getHandle(studentWorkflowId(a.assignment.id, student.instanceId));
  const updateId = `handin/${randomUUID()}`;
  const giveUpAt = Date.now() + UPDATE_PATIENCE_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await handle.executeUpdate<HandinReceipt, [CapturedHandin]>('handIn', { args: [handin], updateId });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        const cause = err.cause as { type?: string; details?: Array<{ counted_from?: string }> } | undefined;
        if (cause?.type === 'HandinClosed') return closed(cause.details?.[0]?.counted_from);
        return reject(innermostMessage(err), /incomplete|size limit/.test(innermostMessage(err)) ? 'invalid_input' : 'conflict');
      }
      // "Not found" or "completed" may be about the update, not the workflow: Temporal aborts an update
      // whose workflow task timed out (a busy worker) — only a workflow that has really ended is closed.
      if (!(await studentWorkflowRuns(handle))) return closed();
      if (Date.now() >= giveUpAt) {
        throw new HandoutError(
          'unavailable',
          `the server is too busy to confirm this hand-in (received at ${showInZone(receivedAt, a.assignment.timezone)}); it may still be recorded with that time: run \`handout handin list ${slug}\` before handing in again`,
          { cause: err },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(200 * 2 ** attempt, 2000)));
    }
  }
}

// How long a hand-in call keeps asking a busy Temporal for the update's outcome before it says so.
const UPDATE_PATIENCE_MS = 120_000;

/** Whether the student's deadline workflow is still running (an error reaching Temporal counts as running: ask again). */
async function studentWorkflowRuns(handle: WorkflowHandle): Promise<boolean> {
  try {
    return (await handle.describe()).status.name === 'RUNNING';
  } catch (err) {
    return !(err instanceof WorkflowNotFoundError);
  }
}

export async function listHandins(deps: ServiceDeps, p: Principal, org: string, space: string, slug: string, who?: string): Promise<HandinView[]> {
  const a = await findAssignment(deps, org, space, slug);
  const admin = isSpaceAdmin(p, await grantsOf(deps.catalog.db, p), a.space.id);
  const students = await store.listStudents(deps.catalog.db, a.assignment.id);
  const visible = admin && who === undefined ? students : [(await studentOf(deps, p, a, who, 'read hand-ins')).student];
  const out: HandinView[] = [];
  for (const s of visible) {
    const rows = await store.listHandins(deps.catalog.db, a.assignment.id, s.instanceId);
    const graded = gradedVersion(a.assignment, rows)?.version;
    const base = { assignmentSubject: a.subject, instanceSubject: `instance:${org}/${space}/${s.slug}` };
    for (const row of rows) out.push({ ...receiptOf(row, base, s.ownerEmail), graded: row.version === graded });
  }
  return out;
}

export async function getHandin(deps: ServiceDeps, p: Principal, org: string, space: string, slug: string, version: number, who?: string): Promise<HandinView> {
  const all = await listHandins(deps, p, org, space, slug, who);
  const one = all.find((h) => h.version === version);
  if (!one) throw new HandoutError('not_found', `hand-in version ${version} not found`);
  const a = await findAssignment(deps, org, space, slug);
  const students = await store.listStudents(deps.catalog.db, a.assignment.id);
  const s = students.find((x) => `${org}/${space}/${x.slug}` === one.instance)!;
  const row = (await store.listHandins(deps.catalog.db, a.assignment.id, s.instanceId)).find((h) => h.version === version)!;
  return HandinView.parse({ ...one, manifest: await listFiles(await blobStoreOf(deps.dataDir), row.treeSha256, '') });
}

