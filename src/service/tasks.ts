import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError, WorkflowNotFoundError, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { innermostMessage, type TaskListQuery, type TaskStarted, type TaskStatus, type TaskView } from '../domain';
import { appendAuditEvent } from '../store/catalog/audit-log';
import * as taskIndex from '../store/catalog/task-index';
import { adminSpaceIds, grantsOf, isSpaceAdmin } from './authz';
import { actorOf, type Principal, type ServiceDeps } from './deps';
import { conflict, forbidden, HandoutError, notFound } from './errors';
import { awaitTaskClose, type TaskClose } from './task-wait';

// Tasks: every asynchronous operation is a Temporal workflow; the catalog indexes who started which.

export interface TaskToStart {
  kind: string;
  taskId: string;
  subject: string;
  spaceId: string | null;
  workflowType: string;
  args: unknown[];
}

export function webUiUrl(deps: ServiceDeps, taskId: string): string | null {
  if (!deps.temporalUiUrl) return null;
  return `${deps.temporalUiUrl}/namespaces/${encodeURIComponent(deps.temporal.options.namespace)}/workflows/${encodeURIComponent(taskId)}`;
}

/** Indexes the task, then starts its workflow; if Temporal refuses, the index row is removed again. */
export async function startTask(deps: ServiceDeps, p: Principal, task: TaskToStart): Promise<TaskStarted> {
  await taskIndex.insertTask(deps.catalog.db, { id: task.taskId, kind: task.kind, subject: task.subject, spaceId: task.spaceId, createdBy: p.userId });
  try {
    // Eager start: the first workflow task runs in this process's worker without a task-queue round
    // trip (the server ignores the request when it cannot, and starts the workflow as usual).
    const starter = deps.eagerStarter ?? deps.temporal;
    await starter.workflow.start(task.workflowType, { workflowId: task.taskId, taskQueue: deps.taskQueue, args: task.args, requestEagerStart: deps.eagerStarter !== undefined });
  } catch (err) {
    await taskIndex.deleteTask(deps.catalog.db, task.taskId);
    throw new HandoutError('unavailable', `could not start the task: Temporal is not reachable (${(err as Error).message})`, { cause: err });
  }
  return { task_id: task.taskId, status: 'QUEUED', web_ui_url: webUiUrl(deps, task.taskId) };
}

async function visibleTask(deps: ServiceDeps, p: Principal, taskId: string): Promise<taskIndex.TaskRow> {
  const row = await taskIndex.findTask(deps.catalog.db, taskId);
  if (!row) throw notFound(`task "${taskId}"`);
  if (p.isAdmin || row.createdBy === p.userId) return row;
  if (row.spaceId && isSpaceAdmin(p, await grantsOf(deps.catalog.db, p), row.spaceId)) return row;
  throw forbidden(`task "${taskId}" was started by another user; only its creator, a space admin of its space or an admin may see it`);
}

function statusOf(desc: WorkflowExecutionDescription): TaskStatus {
  switch (desc.status.name) {
    case 'COMPLETED':
      return 'COMPLETED';
    case 'CANCELLED':
      return 'CANCELLED';
    case 'FAILED':
    case 'TERMINATED':
    case 'TIMED_OUT':
      return 'FAILED';
    case 'CONTINUED_AS_NEW':
    case 'RUNNING':
      // Before a worker has picked up the first workflow task, history holds only "started" and "task scheduled".
      return desc.historyLength <= 2 ? 'QUEUED' : 'RUNNING';
    default:
      return 'RUNNING';
  }
}

/** Task kinds whose workflow answers the progress query. */
const PROGRESS_KINDS = new Set(['snapshot.create', 'snapshot.restore', 'distribution', 'feedback.release']);
/** Task kinds with per-target outcomes (the `targets` query, the result, or the failure's details). */
const TARGET_KINDS = new Set(['distribution']);

/** Asks a workflow a query; a worker that does not answer quickly costs only that field. */
async function ask<T>(handle: WorkflowHandle, query: string): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), 2000);
  });
  try {
    return await Promise.race([handle.query<T>(query).catch(() => null), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The result a failed workflow attached to its failure (a distribution's per-target outcomes). */
function failureDetails(err: unknown): { targets?: TaskView['targets'] } | null {
  for (let e = err as { cause?: unknown; details?: unknown[] } | undefined; e; e = e.cause as typeof e) {
    if (e instanceof ApplicationFailure && e.details?.length) return e.details[0] as { targets?: TaskView['targets'] };
  }
  return null;
}

/** The task as Temporal has it; `closed`, from a wait that saw the workflow close, saves asking for its result again. */
async function describeTask(deps: ServiceDeps, row: taskIndex.TaskRow, closed?: TaskClose): Promise<TaskView> {
  const base: TaskView = {
    task_id: row.id,
    kind: row.kind,
    status: 'CREATED',
    subject: row.subject,
    created_by: row.createdByEmail,
    created_at: row.createdAt.toISOString(),
    started_at: null,
    finished_at: null,
    progress: null,
    result: null,
    error: null,
    targets: null,
    web_ui_url: webUiUrl(deps, row.id),
  };
  const handle = deps.temporal.workflow.getHandle(row.id);
  let desc: WorkflowExecutionDescription;
  try {
    desc = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return base; // indexed, not (yet) started
    throw new HandoutError('unavailable', `cannot read the task from Temporal: ${(err as Error).message}`, { cause: err });
  }
  const view: TaskView = { ...base, status: statusOf(desc), started_at: desc.startTime.toISOString(), finished_at: desc.closeTime?.toISOString() ?? null };
  const withTargets = TARGET_KINDS.has(row.kind);
  if (view.status === 'RUNNING' && PROGRESS_KINDS.has(row.kind)) {
    view.progress = await ask<TaskView['progress']>(handle, 'progress');
    if (withTargets) view.targets = await ask<TaskView['targets']>(handle, 'targets');
  }
  // The result of the run that closed; a wait's result call followed the same runs to the same close.
  const outcome = (): Promise<unknown> => {
    if (closed?.completed && view.status === 'COMPLETED') return Promise.resolve(closed.result);
    if (closed && !closed.completed && view.status !== 'COMPLETED') return Promise.reject(closed.error);
    return handle.result();
  };
  if (view.status === 'COMPLETED') {
    view.result = (await outcome()) ?? null;
    if (withTargets) view.targets = (view.result as { targets?: TaskView['targets'] } | null)?.targets ?? null;
  }
  if (view.status === 'FAILED' || view.status === 'CANCELLED') {
    try {
      await outcome();
    } catch (err) {
      view.error = err instanceof WorkflowFailedError ? innermostMessage(err) : (err as Error).message;
      if (withTargets) view.targets = failureDetails(err)?.targets ?? null;
    }
    // A cancelled run (or one that failed before its end) still answers the query from its history.
    if (withTargets && !view.targets) view.targets = await ask<TaskView['targets']>(handle, 'targets');
    if (desc.status.name === 'TERMINATED') view.error = `terminated: ${view.error ?? 'by an operator'}`;
  }
  if (view.targets && view.status !== 'RUNNING') view.progress = { done: view.targets.filter((t) => t.status !== 'pending').length, total: view.targets.length, label: view.status.toLowerCase() };
  return view;
}

/**
 * The task as it stands. With `wait`, first waits (up to `waitMs`, or until `signal` aborts) for it to
 * finish; who may see the task is checked before any waiting.
 */
export async function getTask(deps: ServiceDeps, p: Principal, taskId: string, wait?: { waitMs: number; signal: AbortSignal }): Promise<TaskView> {
  const row = await visibleTask(deps, p, taskId);
  const closed = wait ? await awaitTaskClose(deps, row.id, wait.waitMs, wait.signal) : undefined;
  return describeTask(deps, row, closed);
}

/** Newest first; admins see all tasks, others theirs and those of spaces they administer. */
export async function listTasks(deps: ServiceDeps, p: Principal, query: TaskListQuery): Promise<TaskView[]> {
  const db = deps.catalog.db;
  const visibleTo = p.isAdmin ? undefined : { userId: p.userId, spaceIds: adminSpaceIds(await grantsOf(db, p)) };
  const rows = await taskIndex.listTasks(db, { limit: query.status ? 1000 : query.limit ?? 50, visibleTo });
  const views = await Promise.all(rows.map((r) => describeTask(deps, r)));
  const filtered = query.status ? views.filter((v) => v.status === query.status) : views;
  return filtered.slice(0, query.limit ?? 50);
}

/** Requests cancellation; the workflow stops at its next step and undoes what it must. */
export async function cancelTask(deps: ServiceDeps, p: Principal, taskId: string): Promise<TaskView> {
  const row = await visibleTask(deps, p, taskId);
  const before = await describeTask(deps, row);
  if (before.status === 'COMPLETED' || before.status === 'FAILED' || before.status === 'CANCELLED') {
    throw conflict(`task "${taskId}" has already finished (${before.status}); nothing to cancel`);
  }
  await deps.temporal.workflow.getHandle(taskId).cancel();
  await appendAuditEvent(deps.catalog.db, {
    event_key: `api/${randomUUID()}`,
    actor: actorOf(p),
    action: 'task.cancel_requested',
    subject: `task:${taskId}`,
    details: { kind: row.kind, subject: row.subject },
    task_id: taskId,
  });
  return describeTask(deps, row);
}
