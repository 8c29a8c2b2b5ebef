import type { SingleBar } from 'cli-progress';
import type { TaskView } from '../domain/tasks';
import { ApiError, enc, type ApiClient } from './client';
import { CliError } from './errors';
import { isFinished } from './task-view';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Each request asks the API to hold it until the task has finished (GET /tasks/:id?wait_ms=), so the
// end is seen at once, without polling. On a terminal it asks for a second at a time, so the progress
// bar moves; otherwise for as long as the API allows, so a script's --wait costs a request per 20 s.
const TERMINAL_WAIT_MS = 1000;
const PIPE_WAIT_MS = 20_000;
// An answer that comes back sooner than asked while the task still runs (an API without the long
// poll, or a task not started yet) is asked again after a back-off, from 50 ms growing by a fifth up
// to 250 ms (the old polling), not at once.
const FIRST_RETRY_MS = 50;
const RETRY_GROWTH = 1.2;
const MAX_RETRY_MS = 250;
// After a transient error (the API unreachable, restarting or overloaded): from 100 ms, doubling up to 5 s.
const MAX_ERROR_RETRY_MS = 5000;

/**
 * Follows a task until it finishes. Transient failures (API restarting, network blips) are retried
 * until the timeout instead of aborting the wait. Shows a progress bar on a terminal and plain
 * progress lines otherwise (on stderr, so stdout stays parseable). Throws if the task did not complete.
 */
export async function waitForTask(client: ApiClient, taskId: string, timeoutSeconds: number): Promise<TaskView> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  const tty = Boolean(process.stderr.isTTY);
  let bar: SingleBar | undefined;
  let lastLine = '';
  let retryDelay = FIRST_RETRY_MS;
  let errorDelay = FIRST_RETRY_MS;
  try {
    for (;;) {
      const waitMs = Math.max(0, Math.min(tty ? TERMINAL_WAIT_MS : PIPE_WAIT_MS, deadline - Date.now()));
      const askedAt = Date.now();
      let task: TaskView | undefined;
      try {
        task = await client.get<TaskView>(`/tasks/${enc(taskId)}`, { wait_ms: waitMs });
      } catch (err) {
        if (!(err instanceof ApiError && err.transient)) throw err;
      }
      let delay = 0;
      if (task) {
        const done = task.progress?.done ?? (isFinished(task.status) ? 1 : 0);
        const total = task.progress?.total ?? 1;
        if (tty) {
          // Loaded only for a terminal: a script's `--wait` does not pay for it at every start.
          bar ??= new (await import('cli-progress')).SingleBar({ format: `${taskId} [{bar}] {value}/{total} {status}`, stream: process.stderr, hideCursor: true });
          if (!bar.isActive) bar.start(total, done, { status: task.status });
          bar.setTotal(total);
          bar.update(done, { status: task.status });
        } else {
          const line = `task ${taskId}: ${task.status}${task.progress ? ` (${task.progress.done}/${task.progress.total})` : ''}`;
          if (line !== lastLine) process.stderr.write(`${line}\n`);
          lastLine = line;
        }
        if (isFinished(task.status)) {
          bar?.stop();
          if (task.status !== 'COMPLETED') throw new CliError(`task ${taskId} ${task.status === 'FAILED' ? 'failed' : 'was cancelled'}: ${task.error ?? 'no reason given'}`);
          return task;
        }
        errorDelay = FIRST_RETRY_MS;
        if (Date.now() - askedAt < waitMs) {
          delay = retryDelay;
          retryDelay = Math.min(retryDelay * RETRY_GROWTH, MAX_RETRY_MS);
        }
      } else {
        errorDelay = Math.min(errorDelay * 2, MAX_ERROR_RETRY_MS);
        delay = errorDelay;
      }
      if (Date.now() > deadline) throw new CliError(`gave up waiting for task ${taskId} after ${timeoutSeconds} s; it goes on in the background: "handout tasks get ${taskId} --wait"`);
      if (delay > 0) await sleep(delay);
    }
  } finally {
    bar?.stop();
  }
}
