import { SingleBar } from 'cli-progress';
import { FINISHED_STATUSES, type TaskView } from '../domain/tasks';
import { ApiError, enc, type ApiClient } from './client';
import { CliError } from './errors';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
  let delay = 250;
  try {
    for (;;) {
      let task: TaskView | undefined;
      try {
        task = await client.get<TaskView>(`/tasks/${enc(taskId)}`);
      } catch (err) {
        if (!(err instanceof ApiError && err.transient)) throw err;
      }
      if (task) {
        const done = task.progress?.done ?? (FINISHED_STATUSES.includes(task.status) ? 1 : 0);
        const total = task.progress?.total ?? 1;
        if (tty) {
          bar ??= new SingleBar({ format: `${taskId} [{bar}] {value}/{total} {status}`, stream: process.stderr, hideCursor: true });
          if (!bar.isActive) bar.start(total, done, { status: task.status });
          bar.setTotal(total);
          bar.update(done, { status: task.status });
        } else {
          const line = `task ${taskId}: ${task.status}${task.progress ? ` (${task.progress.done}/${task.progress.total})` : ''}`;
          if (line !== lastLine) process.stderr.write(`${line}\n`);
          lastLine = line;
        }
        if (FINISHED_STATUSES.includes(task.status)) {
          bar?.stop();
          if (task.status !== 'COMPLETED') throw new CliError(`task ${taskId} ${task.status === 'FAILED' ? 'failed' : 'was cancelled'}: ${task.error ?? 'no reason given'}`);
          return task;
        }
        delay = 250;
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
