import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { studentInputOf, subjectsOf } from '../activities/assignments';
import { AssignmentView, CreateAssignment, UpdateAssignment, ExtendRequest, type AssignmentView as View } from '../domain/assignments';
import type { AssignmentInput } from '../domain/assignment-run';
import type { DistributionRecord, TargetRef } from '../domain/distribution-run';
import { DEFAULT_STRATEGIES } from '../domain/distribution';
import type { TaskStarted } from '../domain';
import { CURRENT_STATE } from '../domain/snapshots';
import { isTimeZone, parseZonedTime, showInZone } from '../domain/zoned-time';
import * as store from '../store/catalog/assignments';
import { appendAuditEvent } from '../store/catalog/audit-log';
import type { CatalogDb } from '../store/catalog/db';
import * as dir from '../store/catalog/directory';
import { insertDistribution } from '../store/catalog/distributions';
import { users } from '../store/catalog/schema';
import * as taskIndex from '../store/catalog/task-index';
import { eq } from 'drizzle-orm';
import { grantsOf, requireSpaceAdmin } from './authz';
import { actorOf, type Principal, type ServiceDeps } from './deps';
import { resolveInstance, resolveSpace } from './directory';
import { checkSelectionInSource, selectionOf } from './distribution';
import { conflict, HandoutError, invalidInput, notFound } from './errors';
import { slugOrDerived } from './slugs';
import { openInstance } from './instance-access';
import { webUiUrl } from './tasks';

// Assignments, for the space admins (instructors, TAs) of their space: create, read, change, extend,
// cancel. Students reach their own hand-ins through service/handins.ts.

export const assignmentWorkflowId = (id: string) => `assignment/${id}`;
export const studentWorkflowId = (id: string, instanceId: string) => `assignment/${id}/student/${instanceId}`;

export interface OpenedAssignment {
  assignment: store.AssignmentRow;
  org: dir.OrgRow;
  space: dir.SpaceRow;
  subject: string;
}

/** An assignment of a space, for a space admin of that space. */
export async function manageAssignment(deps: ServiceDeps, p: Principal, org: string, space: string, slug: string, action: string): Promise<OpenedAssignment> {
  const opened = await findAssignment(deps, org, space, slug);
  requireSpaceAdmin(p, await grantsOf(deps.catalog.db, p), opened.space.id, action, `space "${org}/${space}"`);
  return opened;
}

export async function findAssignment(deps: ServiceDeps, orgSlug: string, spaceSlug: string, slug: string): Promise<OpenedAssignment> {
  const { org, space } = await resolveSpace(deps.catalog.db, orgSlug, spaceSlug);
  const assignment = await store.findAssignment(deps.catalog.db, space.id, slug);
  if (!assignment) throw notFound(`assignment "${orgSlug}/${spaceSlug}/${slug}"`);
  return { assignment, org, space, subject: `assignment:${org.slug}/${space.slug}/${slug}` };
}

/** Parses a CLI time in the assignment's zone, naming the option in the error. */
function timeOf(option: string, text: string, zone: string): Date {
  const parsed = parseZonedTime(text, zone);
  if (!parsed.ok) throw invalidInput(`${option}: ${parsed.message}`);
  return parsed.instant;
}

export async function viewOf(deps: ServiceDeps, a: store.AssignmentRow, org: string, space: string): Promise<View> {
  const [creator] = await deps.catalog.db.select({ email: users.email }).from(users).where(eq(users.id, a.createdBy));
  const source = await dir.findInstanceById(deps.catalog.db, a.sourceInstanceId);
  return AssignmentView.parse({
    slug: a.slug,
    name: a.name,
    description: a.description,
    org_slug: org,
    space_slug: space,
    source: `${org}/${space}/${source?.slug ?? '?'}`,
    snapshot: a.sourceSnapshot,
    handin: a.handinPaths.map((rel) => `/files/${rel}`),
    targets: a.groupTarget ? 'group: students' : 'listed students',
    status: a.status,
    timezone: a.timezone,
    release_at: showInZone(a.releaseAt, a.timezone),
    due_at: showInZone(a.dueAt, a.timezone),
    cutoff_at: showInZone(a.cutoffAt, a.timezone),
    release_at_utc: a.releaseAt?.toISOString() ?? null,
    due_at_utc: a.dueAt.toISOString(),
    cutoff_at_utc: a.cutoffAt?.toISOString() ?? null,
    late_policy: a.latePolicy,
    size_limit_bytes: a.sizeLimitBytes,
    handback_visible: a.handbackVisible,
    task_id: a.taskId,
    created_by: creator?.email ?? '?',
    created_at: a.createdAt.toISOString(),
  });
}

/** `assignments create`: everything is checked before the assignment and its release timer exist. */
export async function createAssignment(deps: ServiceDeps, p: Principal, orgSlug: string, spaceSlug: string, body: CreateAssignment): Promise<TaskStarted & { assignment: View }> {
  const parsed = CreateAssignment.safeParse(body);
  if (!parsed.success) throw invalidInput(parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; '));
  const req = parsed.data;
  const db = deps.catalog.db;
  const { org, space } = await resolveSpace(db, orgSlug, spaceSlug);
  requireSpaceAdmin(p, await grantsOf(db, p), space.id, 'creating an assignment', `space "${org.slug}/${space.slug}"`);
  if (req.source.org_slug !== org.slug || req.source.space_slug !== space.slug) throw invalidInput(`the material must come from an instance of space "${org.slug}/${space.slug}"`);

  if (!isTimeZone(req.timezone)) throw invalidInput(`unknown time zone "${req.timezone}": use an IANA name such as Europe/Zurich`);
  const now = new Date();
  const dueAt = timeOf('--due-at', req.due_at, req.timezone);
  const releaseAt = req.release_at ? timeOf('--release-at', req.release_at, req.timezone) : null;
  const cutoffAt = req.cutoff_at ? timeOf('--cutoff-at', req.cutoff_at, req.timezone) : null;
  const latePolicy = req.late_policy ?? 'hard';
  if (dueAt <= (releaseAt ?? now)) throw invalidInput(`the due time ${showInZone(dueAt, req.timezone)} is not after the release (${releaseAt ? showInZone(releaseAt, req.timezone) : 'now'})`);
  if (latePolicy === 'accept-late' && !cutoffAt) throw invalidInput('--late-policy accept-late needs --cutoff-at: the last moment a late hand-in is accepted');
  if (latePolicy === 'hard' && cutoffAt) throw invalidInput('--cutoff-at only applies with --late-policy accept-late');
  if (cutoffAt && cutoffAt <= dueAt) throw invalidInput(`the cut-off ${showInZone(cutoffAt, req.timezone)} is not after the due time ${showInZone(dueAt, req.timezone)}`);

  const slug = slugOrDerived(req.slug, req.name);
  if (await store.findAssignment(db, space.id, slug)) throw conflict(`an assignment "${slug}" already exists in space "${org.slug}/${space.slug}"`);

  const source = await openInstance(deps, p, req.source, 'viewer');
  const snapshot = req.snapshot ?? CURRENT_STATE;
  const { pick, kinds } = selectionOf({ files: req.files, tables: req.tables, apps: req.apps });
  if (pick === 'all') throw invalidInput('name the material with --files, --tables or --apps');
  const sourceObjectSha256 = await checkSelectionInSource(deps, p, source, snapshot, pick);
  const handin = req.handin.map((path) => selectionOf({ files: [path] }).pick as { files: string[] }).map((s) => s.files[0]!);
  for (const [i, rel] of handin.entries()) {
    const inside = pick.files.some((m) => m === '' || rel === m || rel.startsWith(`${m}/`));
    if (!inside) throw invalidInput(`the hand-in path ${req.handin[i]} is not in the material (--files ${pick.files.map((f) => `/files/${f}`).join(',') || 'none'})`);
  }
  await checkSelectionInSource(deps, p, source, snapshot, { files: handin, tables: [], apps: [] });

  const explicit: TargetRef[] = [];
  if (req.targets !== 'group') {
    for (const ref of req.targets) {
      const found = await resolveInstance(db, ref).catch((err) => (err instanceof HandoutError && err.code === 'not_found' ? null : Promise.reject(err)));
      if (!found) throw notFound(`student instance "${ref.org_slug}/${ref.space_slug}/${ref.instance_slug}"`);
      if (found.space.id !== space.id) throw invalidInput(`the student instance ${ref.org_slug}/${ref.space_slug}/${ref.instance_slug} is not in space "${org.slug}/${space.slug}"`);
      if (explicit.some((t) => t.instanceId === found.instance.id)) throw invalidInput(`the student instance ${ref.instance_slug} is listed twice`);
      explicit.push({ instanceId: found.instance.id, subject: `instance:${org.slug}/${space.slug}/${found.instance.slug}` });
    }
  }

  const id = randomUUID();
  const taskId = assignmentWorkflowId(id);
  const subject = `assignment:${org.slug}/${space.slug}/${slug}`;
  const distributionId = randomUUID();
  const record: DistributionRecord = {
    source_subject: source.subject,
    snapshot,
    group_prefix: req.targets === 'group' ? `instance:${org.slug}/${space.slug}` : null,
    strategies: DEFAULT_STRATEGIES,
    kinds,
    auto_snapshot: false,
    notify: req.notify ?? false,
    message: req.message ?? '',
    actor: actorOf(p),
    pick,
  };
  const input: AssignmentInput = {
    assignmentId: id,
    subject,
    releaseAt: releaseAt?.toISOString() ?? null,
    distribution: {
      distributionId,
      sourceInstanceId: source.instance.id,
      sourceSubject: source.subject,
      sourceObjectSha256,
      snapshot,
      pick,
      autoSnapshot: false,
      notify: record.notify,
      concurrency: deps.distributionConcurrency,
      actor: actorOf(p),
      createdBy: p.userId,
    },
    student: { deadline: dueAt.toISOString(), cutoffAt: cutoffAt?.toISOString() ?? null, latePolicy, sizeLimitBytes: req.size_limit_bytes ?? null, handinPaths: handin },
    explicitTargets: explicit,
    actor: actorOf(p),
  };
  await db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as CatalogDb;
    await store.insertAssignment(
      tx,
      {
        id,
        spaceId: space.id,
        slug,
        name: req.name,
        description: req.description ?? '',
        sourceInstanceId: source.instance.id,
        sourceSnapshot: snapshot,
        material: pick,
        handinPaths: handin,
        groupTarget: req.targets === 'group',
        timezone: req.timezone,
        releaseAt,
        dueAt,
        latePolicy,
        cutoffAt,
        sizeLimitBytes: req.size_limit_bytes ?? null,
        notify: record.notify,
        message: record.message,
        status: 'scheduled',
        taskId,
        actor: actorOf(p),
        createdBy: p.userId,
      },
      explicit.map((t) => t.instanceId),
    );
    await insertDistribution(tx, {
      id: distributionId,
      taskId: `${taskId}/release`,
      sourceInstanceId: source.instance.id,
      sourceSubject: source.subject,
      sourceSnapshot: snapshot,
      request: record,
      groupSpaceId: req.targets === 'group' ? space.id : null,
      actor: actorOf(p),
      createdBy: p.userId,
    });
    await taskIndex.insertTask(tx, { id: taskId, kind: 'assignment', subject, spaceId: space.id, createdBy: p.userId });
    await appendAuditEvent(tx, {
      event_key: `${taskId}/assignment.created`,
      actor: actorOf(p),
      action: 'assignment.created',
      subject,
      details: {
        name: req.name,
        source: source.subject,
        snapshot,
        material: pick,
        handin: req.handin,
        targets: req.targets === 'group' ? 'group:students' : explicit.map((t) => t.subject),
        timezone: req.timezone,
        release_at: releaseAt?.toISOString() ?? null,
        due_at: dueAt.toISOString(),
        late_policy: latePolicy,
        cutoff_at: cutoffAt?.toISOString() ?? null,
        size_limit_bytes: req.size_limit_bytes ?? null,
      },
      task_id: taskId,
    });
  });
  try {
    await deps.temporal.workflow.start('assignmentWorkflow', { workflowId: taskId, taskQueue: deps.taskQueue, args: [input] });
  } catch (err) {
    throw new HandoutError('unavailable', `the assignment is stored but its release could not be scheduled (Temporal: ${(err as Error).message}); cancel it and create it again`, { cause: err });
  }
  const created = (await store.findAssignmentById(db, id))!;
  return { task_id: taskId, status: 'QUEUED', web_ui_url: webUiUrl(deps, taskId), assignment: await viewOf(deps, created, org.slug, space.slug) };
}

export async function listAssignments(deps: ServiceDeps, p: Principal, orgSlug: string, spaceSlug: string): Promise<View[]> {
  const { org, space } = await resolveSpace(deps.catalog.db, orgSlug, spaceSlug);
  requireSpaceAdmin(p, await grantsOf(deps.catalog.db, p), space.id, 'listing assignments', `space "${org.slug}/${space.slug}"`);
  return Promise.all((await store.listAssignments(deps.catalog.db, space.id)).map((a) => viewOf(deps, a, org.slug, space.slug)));
}

export async function getAssignment(deps: ServiceDeps, p: Principal, org: string, space: string, slug: string): Promise<View> {
  const opened = await manageAssignment(deps, p, org, space, slug, 'reading an assignment');
  return viewOf(deps, opened.assignment, org, space);
}

/** Sends new deadlines to a running student workflow, or starts a new run (an extension after it ended). */
async function pushDeadline(deps: ServiceDeps, a: store.AssignmentRow, student: store.StudentRow, deadline: Date, cutoffAt: Date | null): Promise<void> {
  const input = await studentInputOf(deps.catalog.db, a, student);
  await deps.temporal.workflow.signalWithStart('studentAssignmentWorkflow', {
    workflowId: studentWorkflowId(a.id, student.instanceId),
    taskQueue: deps.taskQueue,
    args: [input],
    signal: 'setDeadlines',
    signalArgs: [{ deadline: deadline.toISOString(), cutoffAt: cutoffAt?.toISOString() ?? null }],
  });
}

/** Finds a student of the assignment by instance slug or owner e-mail. */
export async function findStudent(deps: ServiceDeps, a: OpenedAssignment, who: string): Promise<store.StudentRow> {
  const found = await store.findStudent(deps.catalog.db, a.assignment.id, { ref: who });
  if (!found) throw notFound(`student "${who}" of assignment ${a.subject.replace('assignment:', '')}${a.assignment.status === 'scheduled' && a.assignment.groupTarget ? ' (a group assignment lists its students at its release)' : ''}`);
  return found;
}

/** `assignments extend ID --student S --until T`: that student's deadline; after the deadline it reopens hand-in. */
export async function extendAssignment(deps: ServiceDeps, p: Principal, org: string, space: string, slug: string, body: ExtendRequest) {
  const req = ExtendRequest.parse(body);
  const opened = await manageAssignment(deps, p, org, space, slug, 'extending a deadline');
  const a = opened.assignment;
  if (a.status === 'cancelled') throw conflict(`assignment ${slug} was cancelled`);
  const until = timeOf('--until', req.until, a.timezone);
  if (until <= new Date()) throw invalidInput(`--until ${showInZone(until, a.timezone)} is in the past`);
  const student = await findStudent(deps, opened, req.student);
  await store.setExtension(deps.catalog.db, a.id, student.instanceId, until);
  await appendAuditEvent(deps.catalog.db, {
    event_key: `api/${randomUUID()}`,
    actor: actorOf(p),
    action: 'assignment.extended',
    subject: opened.subject,
    details: { student: student.ownerEmail, instance: student.slug, until: until.toISOString(), previous: (student.extendedUntil ?? a.dueAt).toISOString() },
  });
  if (a.status === 'released') await pushDeadline(deps, a, { ...student, extendedUntil: until }, until, a.cutoffAt);
  return { student: student.ownerEmail, instance: student.slug, until: showInZone(until, a.timezone)!, until_utc: until.toISOString() };
}

/** `assignments update`: due time, cut-off, description, hand-back visibility. */
export async function updateAssignment(deps: ServiceDeps, p: Principal, org: string, space: string, slug: string, body: UpdateAssignment): Promise<View> {
  const req = UpdateAssignment.parse(body);
  const opened = await manageAssignment(deps, p, org, space, slug, 'changing an assignment');
  const a = opened.assignment;
  if (a.status === 'cancelled') throw conflict(`assignment ${slug} was cancelled`);
  const dueAt = req.due_at ? timeOf('--due-at', req.due_at, a.timezone) : a.dueAt;
  const cutoffAt = req.cutoff_at ? timeOf('--cutoff-at', req.cutoff_at, a.timezone) : a.cutoffAt;
  if (req.cutoff_at && a.latePolicy === 'hard') throw invalidInput('--cutoff-at only applies with --late-policy accept-late');
  if (cutoffAt && cutoffAt <= dueAt) throw invalidInput(`the cut-off ${showInZone(cutoffAt, a.timezone)} is not after the due time ${showInZone(dueAt, a.timezone)}`);
  if (req.due_at && a.releaseAt && dueAt <= a.releaseAt) throw invalidInput(`the due time ${showInZone(dueAt, a.timezone)} is not after the release ${showInZone(a.releaseAt, a.timezone)}`);
  const set = { dueAt, cutoffAt, description: req.description ?? a.description, handbackVisible: req.handback_visible ?? a.handbackVisible };
  await deps.catalog.db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as CatalogDb;
    await store.updateAssignment(tx, a.id, set);
    await appendAuditEvent(tx, { event_key: `api/${randomUUID()}`, actor: actorOf(p), action: 'assignment.updated', subject: opened.subject, details: { ...req, due_at_utc: dueAt.toISOString(), cutoff_at_utc: cutoffAt?.toISOString() ?? null } });
  });
  const updated = { ...a, ...set };
  if (a.status === 'released' && (req.due_at || req.cutoff_at)) {
    // Students with an extension keep it; everyone else follows the new due time.
    for (const student of await store.listStudents(deps.catalog.db, a.id)) {
      await pushDeadline(deps, updated, student, student.extendedUntil ?? dueAt, cutoffAt);
    }
  }
  return viewOf(deps, updated, org, space);
}

/** `assignments cancel`: stops the release timer and every deadline timer; stored hand-ins stay. */
export async function cancelAssignment(deps: ServiceDeps, p: Principal, org: string, space: string, slug: string): Promise<View> {
  const opened = await manageAssignment(deps, p, org, space, slug, 'cancelling an assignment');
  const a = opened.assignment;
  if (a.status === 'cancelled') throw conflict(`assignment ${slug} is already cancelled`);
  await deps.catalog.db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as CatalogDb;
    await store.updateAssignment(tx, a.id, { status: 'cancelled' });
    await appendAuditEvent(tx, { event_key: `api/${randomUUID()}`, actor: actorOf(p), action: 'assignment.cancelled', subject: opened.subject, details: { was: a.status }, task_id: a.taskId });
  });
  const ids = [a.taskId, ...(await store.listStudents(deps.catalog.db, a.id)).map((s) => studentWorkflowId(a.id, s.instanceId))];
  for (const id of ids) {
    try {
      const handle = deps.temporal.workflow.getHandle(id);
      if ((await handle.describe()).status.name === 'RUNNING') await handle.cancel();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err; // never started: nothing runs
    }
  }
  return viewOf(deps, { ...a, status: 'cancelled' }, org, space);
}

export { subjectsOf };
