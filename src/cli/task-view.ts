import type { TargetOutcome } from '../domain/distribution';
import type { TaskStatus, TaskView } from '../domain/tasks';
import { print, render, renderRecord, type Column, type Format } from './output';

// How the CLI shows a task. The statuses are spelled out here rather than read from the domain's zod
// enum, which would load zod into every task command (test/unit/cli-topics.test.ts checks they agree).

/** Every task status, in the order `tasks list --status` offers them. */
export const TASK_STATUSES: readonly TaskStatus[] = ['CREATED', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'];

/** Statuses a task never leaves. */
export const FINISHED_STATUSES: readonly TaskStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];

export const isFinished = (status: TaskStatus): boolean => FINISHED_STATUSES.includes(status);

export const targetColumns: Column<TargetOutcome>[] = [
  { header: 'target', value: (t) => t.target },
  { header: 'status', value: (t) => t.status },
  { header: 'files_written', value: (t) => t.files_written },
  { header: 'files_removed', value: (t) => t.files_removed },
  { header: 'tables', value: (t) => t.tables.join(',') },
  { header: 'apps', value: (t) => t.apps.join(',') },
  { header: 'auto_snapshot', value: (t) => t.auto_snapshot },
  { header: 'mails', value: (t) => t.mails },
  { header: 'reason', value: (t) => t.reason },
];

/** Prints a task; a distribution's per-target outcomes as a table of their own when tabulated. */
export function printTask(task: TaskView, format: Format): void {
  if (format !== 'tabulated' || !task.targets) return print(renderRecord(task, format));
  const { targets, ...rest } = task;
  print(`${renderRecord({ ...rest, result: null }, format)}\n\n${render(targets, format, targetColumns)}`);
}
