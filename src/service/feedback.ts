import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { FeedbackView, GradeRow, PutFeedback, ReleaseFeedback, type TaskStarted } from '../domain';
import type { FeedbackReleaseInput } from '../domain/assignment-run';
import * as store from '../store/catalog/assignments';
import { appendAuditEvent } from '../store/catalog/audit-log';
import type { CatalogDb } from '../store/catalog/db';
import { blobStoreOf } from '../store/blobs';
import { buildFeedbackTree, type FeedbackFile } from '../store/feedback-tree';
import { listFiles } from '../store/handin-capture';
import { scratchFile } from '../store/scratch';
import { TooLargeError, writeStreamToFile } from '../store/streams';
import { findAssignment, findStudent, manageAssignment, type OpenedAssignment } from './assignments';
import { grantsOf, isSpaceAdmin } from './authz';
import { actorOf, type Principal, type ServiceDeps } from './deps';
import { conflict, forbidden, invalidInput, notFound } from './errors';
import { startTask } from './tasks';

// Feedback: stored apart from the student's instance, versioned, invisible to the student until it is
// released; releasing copies it read-only into the student's instance under /files/handback/.

/** Which hand-in version counts: the latest on time, or under accept-late the latest of all. */
export function gradedVersion(a: store.AssignmentRow, rows: store.HandinRow[]): store.HandinRow | undefined {
  const eligible = a.latePolicy === 'accept-late' ? rows : rows.filter((r) => !r.late);
  return eligible[eligible.length - 1];
}

/** Streams one feedback file into the blob store; it becomes part of feedback once `feedback put` names it. */
export async function uploadFeedbackFile(deps: ServiceDeps, p: Principal, org: string, space: string, slug: string, body: Readable): Promise<{ sha256: string; size: number }> {
  await manageAssignment(deps, p, org, space, slug, 'storing feedback');
  const tmp = await scratchFile(deps.dataDir, '.upload');
  try {
    await writeStreamToFile(body, tmp, deps.maxUploadBytes, `the feedback file is larger than the upload limit of ${deps.maxUploadBytes} bytes`);
    const blob = await (await blobStoreOf(deps.dataDir)).putFile(tmp);
    return { sha256: blob.sha256, size: blob.size };
  } catch (err) {
    if (err instanceof TooLargeError) throw invalidInput(err.message);
    throw err;
  } finally {
    await rm(tmp, { force: true });
  }
}

function summaryText(a: OpenedAssignment, handin: store.HandinRow, req: PutFeedback): string {
  return [
    `# Feedback: ${a.assignment.name}`,
    '',
    `Hand-in version ${handin.version}, handed in ${handin.handedInAt.toISOString()}${handin.late ? ' (late)' : ''}${handin.autoCollected ? ' (collected automatically)' : ''}`,
    `sha256 ${handin.manifestSha256}`,
    '',
    ...(req.grade !== undefined ? [`Grade: ${req.grade}`, ''] : []),
    ...(req.comment ? [req.comment, ''] : []),
  ].join('\n');
}

/** `feedback put`: a new feedback version for one student's hand-in (the graded one unless --version). */
export async function putFeedback(deps: ServiceDeps, p: Principal, org: string, space: string, slug: string, body: PutFeedback): Promise<FeedbackView> {
  const req = PutFeedback.parse(body);
  const a = await manageAssignment(deps, p, org, space, slug, 'storing feedback');
  const student = await findStudent(deps, a, req.student);
  const handins = await store.listHandins(deps.catalog.db, a.assignment.id, student.instanceId);
  const handin = req.version === undefined ? gradedVersion(a.assignment, handins) : handins.find((h) => h.version === req.version);
  if (!handin) throw notFound(`hand-in${req.version === undefined ? '' : ` version ${req.version}`} of ${student.ownerEmail ?? student.slug} for ${a.subject.replace('assignment:', '')}`);
  if (req.grade === undefined && !req.comment && !req.files?.length) throw invalidInput('feedback needs a grade, a comment or files');
  const blobs = await blobStoreOf(deps.dataDir);
  const files: FeedbackFile[] = [];
  for (const f of req.files ?? []) {
    if (!(await blobs.has(f.sha256))) throw invalidInput(`the feedback file ${f.path} (${f.sha256}) was not uploaded`);
    files.push(f);
  }
  const summary = await blobs.putBytes(summaryText(a, handin, req));
  let tree: { sha256: string };
  try {
    tree = await buildFeedbackTree(blobs, [...files, { path: 'FEEDBACK.md', sha256: summary.sha256, size: summary.size }]);
  } catch (err) {
    throw invalidInput((err as Error).message);
  }
  const row = await deps.catalog.db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as CatalogDb;
    const created = await store.insertFeedback(tx, {
      id: randomUUID(),
      assignmentId: a.assignment.id,
      instanceId: student.instanceId,
      handinVersion: handin.version,
      grade: req.grade ?? null,
      comment: req.comment ?? null,
      filesTree: tree.sha256,
      createdBy: p.userId,
    });
    await appendAuditEvent(tx, {
      event_key: `api/${randomUUID()}`,
      actor: actorOf(p),
      action: 'feedback.stored',
      subject: a.subject,
      details: { student: student.ownerEmail, instance: student.slug, handin_version: handin.version, feedback_version: created.version, grade: created.grade, files: files.map((f) => f.path) },
      content_hashes: { feedback: tree.sha256, handin: handin.manifestSha256 },
    });
    return created;
  });
  return viewOf(deps, a, student, row);
}

async function viewOf(deps: ServiceDeps, a: OpenedAssignment, student: store.StudentRow, row: store.FeedbackRow): Promise<FeedbackView> {
  const files = row.filesTree ? await listFiles(await blobStoreOf(deps.dataDir), row.filesTree, '') : [];
  return FeedbackView.parse({
    assignment: a.subject.replace('assignment:', ''),
    student: student.ownerEmail,
    instance: `${a.org.slug}/${a.space.slug}/${student.slug}`,
    handin_version: row.handinVersion,
    version: row.version,
    grade: row.grade,
    comment: row.comment,
    files: files.map((f) => ({ ...f, path: f.path.replace(/^\/files\//, '') })),
    created_at: row.createdAt.toISOString(),
    released_at: row.releasedAt?.toISOString() ?? null,
  });
}

/** Space admins see every version; a student sees only their own released feedback. */
export async function getFeedback(deps: ServiceDeps, p: Principal, org: string, space: string, slug: string, who?: string): Promise<FeedbackView[]> {
  const a = await findAssignment(deps, org, space, slug);
  const admin = isSpaceAdmin(p, await grantsOf(deps.catalog.db, p), a.space.id);
  const students = await store.listStudents(deps.catalog.db, a.assignment.id);
  let visible: store.StudentRow[];
  if (admin) visible = who === undefined ? students : [await findStudent(deps, a, who)];
  else {
    const own = students.find((s) => s.ownerEmail === p.email);
    if (!own || (who !== undefined && who !== own.slug && who.toLowerCase() !== own.ownerEmail)) throw forbidden(`${p.email} may read only their own feedback`);
    visible = [own];
  }
  const out: FeedbackView[] = [];
  for (const s of visible) {
    for (const row of await store.listFeedback(deps.catalog.db, a.assignment.id, s.instanceId)) {
      if (admin || row.releasedAt) out.push(await viewOf(deps, a, s, row));
    }
  }
  return out;
}

/** `feedback release`: a task that copies each named student's latest unreleased feedback into their instance. */
export async function releaseFeedback(deps: ServiceDeps, p: Principal, org: string, space: string, slug: string, body: ReleaseFeedback): Promise<TaskStarted & { students: number }> {
  const req = ReleaseFeedback.parse(body);
  const a = await manageAssignment(deps, p, org, space, slug, 'releasing feedback');
  const students = req.students ? await Promise.all(req.students.map((s) => findStudent(deps, a, s))) : await store.listStudents(deps.catalog.db, a.assignment.id);
  const releases: FeedbackReleaseInput['releases'] = [];
  for (const s of students) {
    const rows = await store.listFeedback(deps.catalog.db, a.assignment.id, s.instanceId);
    const latest = rows[rows.length - 1];
    if (!latest) {
      if (req.students) throw invalidInput(`there is no stored feedback for ${s.ownerEmail ?? s.slug}`);
      continue;
    }
    if (!latest.releasedAt) releases.push({ feedbackId: latest.id, instanceId: s.instanceId, instanceSubject: `instance:${org}/${space}/${s.slug}`, handinVersion: latest.handinVersion, version: latest.version });
  }
  if (releases.length === 0) throw conflict('no unreleased feedback to release');
  if (!req.students) await store.updateAssignment(deps.catalog.db, a.assignment.id, { handbackVisible: true });
  const input: FeedbackReleaseInput = { assignmentId: a.assignment.id, slug: a.assignment.slug, subject: a.subject, actor: actorOf(p), releases };
  const started = await startTask(deps, p, {
    kind: 'feedback.release',
    taskId: `assignment/${a.assignment.id}/feedback-release/${randomUUID()}`,
    subject: a.subject,
    spaceId: a.space.id,
    workflowType: 'feedbackReleaseWorkflow',
    args: [input],
  });
  return { ...started, students: releases.length };
}

/** `grades export`: one row per student with the graded hand-in and the latest feedback. */
export async function exportGrades(deps: ServiceDeps, p: Principal, org: string, space: string, slug: string): Promise<GradeRow[]> {
  const a = await manageAssignment(deps, p, org, space, slug, 'exporting grades');
  const db = deps.catalog.db;
  const [students, handins, feedback] = await Promise.all([store.listStudents(db, a.assignment.id), store.listHandins(db, a.assignment.id), store.listFeedback(db, a.assignment.id)]);
  return students.map((s) => {
    const graded = gradedVersion(a.assignment, handins.filter((h) => h.instanceId === s.instanceId));
    const fb = feedback.filter((f) => f.instanceId === s.instanceId);
    const latest = fb[fb.length - 1];
    return GradeRow.parse({
      student: s.ownerEmail,
      instance: s.slug,
      graded_version: graded?.version ?? null,
      handed_in_at: graded?.handedInAt.toISOString() ?? null,
      late: graded?.late ?? false,
      auto_collected: graded?.autoCollected ?? false,
      sha256: graded?.manifestSha256 ?? null,
      grade: latest?.grade ?? null,
      comment: latest?.comment ?? null,
      feedback_version: latest?.version ?? null,
      feedback_released: Boolean(latest?.releasedAt),
    });
  });
}
