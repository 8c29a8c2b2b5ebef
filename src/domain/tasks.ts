import { z } from 'zod';
import { TargetOutcome } from './distribution';

/** Task statuses, as the platform names them. */
export const TaskStatus = z.enum(['CREATED', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED']);
export type TaskStatus = z.infer<typeof TaskStatus>;

export const FINISHED_STATUSES: readonly TaskStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];

/** Progress a task reports while it runs (e.g. targets done of total). */
export const TaskProgress = z.object({ done: z.number().int().nonnegative(), total: z.number().int().nonnegative(), label: z.string().optional() });
export type TaskProgress = z.infer<typeof TaskProgress>;

/** One task as the API shows it. */
export const TaskView = z.object({
  task_id: z.string(),
  kind: z.string(),
  status: TaskStatus,
  subject: z.string(),
  created_by: z.string(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  progress: TaskProgress.nullable(),
  result: z.unknown().nullable(),
  error: z.string().nullable(),
  /** Per-target outcomes of a distribution (applied, skipped, failed with the reason, …); null for other kinds. */
  targets: z.array(TargetOutcome).nullable(),
  web_ui_url: z.string().nullable(),
});
export type TaskView = z.infer<typeof TaskView>;
