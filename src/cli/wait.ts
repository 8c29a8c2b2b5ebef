import type { SingleBar } from 'cli-progress';
import type { TaskView } from '../domain/tasks';
import { ApiError, enc, type ApiClient } from './client';
import { CliError } from './errors';
import { isFinished } from './task-view';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Polling: a task that finishes within a second (most snapshots of small instances, the benchmark's
// incremental ones) is seen soon after (50 ms, growing by a fifth per poll), and a long one is polled
// every 250 ms as before, so it costs the API and the worker no more requests than it did.
const FIRST_POLL_MS = 50;
const POLL_GROWTH = 1.2;
const MAX_POLL_MS = 250;

/**
 * Polls a task until it finishes. Transient failures (API restarting, network blips) are retried
 * until the timeout instead of aborting the wait. Shows a progress bar on a terminal and plain
 * progress lines otherwise (on stderr, so stdout stays parseable). Throws if the task did not complete.
 */
export async function waitForTask(client: ApiClient, taskId: string, timeoutSeconds: number): Promise<TaskView> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  const tty = Boolean(process.stderr.isTTY);
  let bar: SingleBar | undefined;
  let lastLine = '';
  let delay = FIRST_POLL_MS;
  let pollDelay = FIRST_POLL_MS;
  try {
    for (;;) {
      let task: TaskView | undefined;
      try {
        task = await client.get<TaskView>(`/tasks/${enc(taskId)}`);
      } catch (err) {
        if (!(err instanceof ApiError && err.transient)) throw err;
      }
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
        delay = pollDelay;
        pollDelay = Math.min(pollDelay * POLL_GROWTH, MAX_POLL_MS);
      } else {
        delay = Math.min(delay * 2, 5000);
      }
      if (Date.now() > deadline) throw new CliError(`gave up waiting for task ${taskId} after ${timeoutSeconds} s; it goes on in the background: "handout tasks get ${taskId} --wait"`);
      await sleep(delay);
    }
  } finally {
    bar?.stop();
  }
}
