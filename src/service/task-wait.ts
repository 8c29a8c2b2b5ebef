import { WorkflowFailedError } from '@temporalio/client';
import type { ServiceDeps } from './deps';

// The long poll behind `GET /tasks/:id?wait_ms=`: the answer waits for the task's workflow to close.

/** The longest one request may wait for a task: well below the idle timeouts of common proxies (60 s). */
export const MAX_TASK_WAIT_MS = 20_000;

/** Beyond the wait, how long a Temporal call may still run if an abort fell between two of its calls. */
const CALL_DEADLINE_SLACK_MS = 5000;

let waiting = 0;

/** Waits for tasks still open, each counted until its Temporal call has ended too (tests check none is left behind). */
export function tasksBeingAwaited(): number {
  return waiting;
}

/**
 * How a waited-for workflow closed, as its result call told: the caller describing the task next need
 * not ask Temporal for the same result again (one call fewer between the close and the answer).
 */
export type TaskClose = { completed: true; result: unknown } | { completed: false; error: unknown };

/**
 * Returns once the task's workflow has closed (completed, failed, cancelled, terminated, timed out),
 * after `waitMs` at the latest, or as soon as `signal` aborts (the client went away, the API stops).
 * Never throws: the caller describes the task next, and that tells how it stands. Returns at once for
 * a task whose workflow has not started (there is nothing to wait on). Resolves with how the workflow
 * closed when its result call saw it close, else undefined.
 */
export async function awaitTaskClose(deps: ServiceDeps, taskId: string, waitMs: number, signal: AbortSignal): Promise<TaskClose | undefined> {
  const limit = Math.min(waitMs, MAX_TASK_WAIT_MS);
  if (limit <= 0 || signal.aborted) return undefined;
  const stop = new AbortController();
  const abort = () => stop.abort();
  const timer = setTimeout(abort, limit);
  signal.addEventListener('abort', abort, { once: true });
  const stopped = new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
  waiting++;
  // result() long-polls Temporal for the close event, following continue-as-new. The abort signal
  // cancels the call in flight; the SDK listens for it only during a call, so the deadline bounds a
  // call it would start just after the abort.
  const closed = deps.temporal.withDeadline(Date.now() + limit + CALL_DEADLINE_SLACK_MS, () =>
    deps.temporal.withAbortSignal(stop.signal, () => deps.temporal.workflow.getHandle(taskId).result()),
  );
  // Failed, cancelled, not found or the call cancelled: each means "stop waiting". Only a failure
  // that Temporal reported for the workflow itself tells how it closed; the others tell nothing.
  const ended = closed.then(
    (result): TaskClose => ({ completed: true, result }),
    (error: unknown): TaskClose | undefined => (error instanceof WorkflowFailedError ? { completed: false, error } : undefined),
  );
  void ended.finally(() => waiting--);
  try {
    return await Promise.race([ended, stopped.then(() => undefined)]);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', abort);
    stop.abort(); // the workflow closed first: there is nothing left to cancel
  }
}
